//===- MuDialect.td - the mu graph dialect -----------------*- tablegen -*-===//
#ifndef MU_DIALECT_TD
#define MU_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Mu_Dialect : Dialect {
  let name = "mu";
  let cppNamespace = "::mu";
  let summary = "Tensor-level graph ops for transformer language models";
  let description = [{
    The `mu` dialect is the graph level of mu-compile: value-semantics tensor
    ops covering the common ONNX subset plus the high-level transformer ops
    (`rms_norm`, `layer_norm`, `rope`, `attention`, `glu`) that the fusion
    passes produce. Large weights live in `mu.constant` ops holding
    `dense_resource` blobs, never uniqued dense attributes.
  }];
  let hasConstantMaterializer = 1;
  let useDefaultAttributePrinterParser = 1;
}

include "mlir/IR/AttrTypeBase.td"

def Mu_GeluApprox : I32EnumAttr<"GeluApproximation", "GELU approximation", [
    I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"tanh", 1>]> {
  let cppNamespace = "::mu";
  let genSpecializedAttr = 0;
}

def Mu_Activation : I32EnumAttr<"Activation", "gate activation of mu.glu", [
    I32EnumAttrCase<"silu", 0>, I32EnumAttrCase<"gelu", 1>,
    I32EnumAttrCase<"gelu_tanh", 2>, I32EnumAttrCase<"relu", 3>]> {
  let cppNamespace = "::mu";
  let genSpecializedAttr = 0;
}

def Mu_RopeMode : I32EnumAttr<"RopeMode", "rotary embedding layout", [
    I32EnumAttrCase<"rotate_half", 0>, I32EnumAttrCase<"interleaved", 1>]> {
  let cppNamespace = "::mu";
  let genSpecializedAttr = 0;
}

def Mu_GeluApproxAttr : EnumAttr<Mu_Dialect, Mu_GeluApprox, "gelu_approx"> {
  let assemblyFormat = "`<` $value `>`";
}
def Mu_ActivationAttr : EnumAttr<Mu_Dialect, Mu_Activation, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}
def Mu_RopeModeAttr : EnumAttr<Mu_Dialect, Mu_RopeMode, "rope_mode"> {
  let assemblyFormat = "`<` $value `>`";
}

class Mu_Op<string mnemonic, list<Trait> traits = []> :
    Op<Mu_Dialect, mnemonic, traits>;

#endif // MU_DIALECT_TD
