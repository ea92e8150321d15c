//===- FuzzCalib.cpp - calibration inputs and saved statistics -------===//
///
/// \file
/// The first byte picks the reader: .npy token ids, whitespace ids, text
/// (tokenized by MU_FUZZ_BASE's tokenizer when set), saved activation
/// ranges (JSON), or encoder-decoder task data (MU_FUZZ_BASE must then be an
/// encoder-decoder; otherwise that case is skipped).
///
//===----------------------------------------------------------------------===//
#include "FuzzCommon.h"
#include "mu/Driver/Calibrate.h"
#include "mu/Quant/Calibration.h"
#include "mu/runtime/Generate.h"
#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

using namespace mu;

static std::unique_ptr<rt::Model> gModel;
static rt::Tokenizer gTok;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  if (const char *base = std::getenv("MU_FUZZ_BASE")) {
    rt::Status st;
    gModel = rt::Model::load(base, st);
    if (gModel)
      (void)gTok.init(gModel->fb().tokenizer());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  int sel = data[0] % 5;
  static const char *const kExt[] = {".npy", ".ids", ".txt", ".json", ".jsonl"};
  std::string path = fuzz::scratchFile(data + 1, size - 1, kExt[sel]);
  std::string error;
  quant::CalibrationInput in;
  int64_t vocab = gTok.valid() ? int64_t(gTok.vocabSize()) : 512;
  switch (sel) {
  case 0:
    (void)quant::loadCalibrationInput(path, quant::CalibFormat::Npy, gTok, 4, 16, vocab, in, error);
    break;
  case 1:
    (void)quant::loadCalibrationInput(path, quant::CalibFormat::Ids, gTok, 4, 16, vocab, in, error);
    break;
  case 2:
    if (gTok.valid())
      (void)quant::loadCalibrationInput(path, quant::CalibFormat::Text, gTok, 4, 16, vocab, in,
                                        error);
    break;
  case 3: {
    quant::ActivationRanges r;
    if (quant::rangesFromJson(std::string(reinterpret_cast<const char *>(data + 1), size - 1), r,
                              error))
      (void)quant::rangesToJson(r);
    break;
  }
  default:
    if (gModel) {
      rt::Session s(*gModel);
      rt::Generator g(*gModel, s);
      if (g.isEncoderDecoder())
        (void)quant::loadSeq2SeqInput(path, *gModel, 0, 2, 8, in, error);
    }
  }
  return 0;
}
