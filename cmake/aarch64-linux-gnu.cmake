# Cross-compiling the runtime (-DMU_RUNTIME_ONLY=ON) for 64-bit Arm Linux
# with Debian's g++-aarch64-linux-gnu; run the result under qemu-user with
# QEMU_LD_PREFIX=/usr/aarch64-linux-gnu (test/cross-aarch64.sh does).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # flatc runs on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)    # header-only FlatBuffers, CLI11 from the host
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
