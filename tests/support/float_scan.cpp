#include "float_scan.hpp"

#include <regex>
#include <sstream>

namespace zimt::test {

bool is_float_mnemonic(const std::string& m) {
  // x87: every mnemonic starting with 'f' (fld, fadd, fistp, fnstcw, ...).
  static const std::regex x87("^f[a-z0-9]+$");
  // Any conversion to or from floating point (cvtsi2sd, cvttss2si, cvtdq2ps, vcvtph2ps, ...).
  static const std::regex convert("^v?cvt[a-z0-9]*$");
  // SSE/AVX/AVX-512 scalar and packed float arithmetic and comparisons.
  static const std::regex arith(
      "^v?(add|sub|mul|div|sqrt|min|max|rcp|rsqrt|rcp14|rsqrt14|rcp28|rsqrt28|round|rndscale|hadd|hsub|addsub|dp|"
      "u?comi|cmp[a-z]*|f[n]?madd[0-9]*|f[n]?msub[0-9]*|fmaddsub[0-9]*|fmsubadd[0-9]*|getexp|getmant|scalef|range|"
      "reduce|fixupimm|fpclass|exp2)(ss|sd|ps|pd|sh|ph)$");
  return std::regex_match(m, x87) || std::regex_match(m, convert) || std::regex_match(m, arith);
}

std::vector<FloatInstruction> scan_disassembly(const std::string& text) {
  // objdump -d --no-show-raw-insn lines look like:
  //   "0000000000000000 <_ZN4zimt3fooEv>:"     (a symbol)
  //   "  1a:\tvaddps %ymm1,%ymm2,%ymm3"        (an instruction)
  std::vector<FloatInstruction> found;
  std::istringstream in(text);
  std::string line, function;
  while (std::getline(in, line)) {
    const auto lt = line.find(" <");
    if (!line.empty() && line[0] != ' ' && lt != std::string::npos && line.back() == ':') {
      function = line.substr(lt + 2, line.size() - lt - 4);
      continue;
    }
    const auto tab = line.find(":\t");
    if (tab == std::string::npos) continue;
    std::istringstream words(line.substr(tab + 2));
    std::string mnemonic;
    words >> mnemonic;
    // Prefixes such as "rep", "lock", "{vex}", "notrack" come first.
    while (mnemonic == "rep" || mnemonic == "repz" || mnemonic == "repnz" || mnemonic == "lock" ||
           mnemonic == "notrack" || mnemonic == "bnd" || (!mnemonic.empty() && mnemonic[0] == '{'))
      words >> mnemonic;
    if (is_float_mnemonic(mnemonic)) found.push_back({function, line});
  }
  return found;
}

}  // namespace zimt::test
