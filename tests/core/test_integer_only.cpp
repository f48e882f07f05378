// The integer-only proof: disassemble libzimt_core and fail on any
// floating-point arithmetic or conversion instruction.
#include "float_scan.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

namespace {

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 1 << 16> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  return out;
}

}  // namespace

TEST_CASE("the scanner recognises float instructions and lets integer ones pass") {
  using zimt::test::is_float_mnemonic;
  for (const char* m :
       {"addss", "vaddps", "mulsd", "vfmadd231ps", "vfnmadd213sd", "cvtsi2sd", "cvttsd2si", "vcvtdq2ps", "fld", "fstp",
        "fistp", "vsqrtps", "ucomiss", "vcmpltps", "divpd", "vmaxss", "vroundps", "vdpps"})
    CHECK_MESSAGE(is_float_mnemonic(m), m);
  for (const char* m : {"movss", "vmovaps", "vpxor", "xorps", "vpdpbusd", "vpmaddubsw", "vpaddd", "imul", "add",
                        "vpshufb", "vbroadcastss", "vpmovsxbd", "vpsrad", "cmp", "shufps", "movsd", "vpcmpeqd"})
    CHECK_MESSAGE(!is_float_mnemonic(m), m);

  const auto found = zimt::test::scan_disassembly(
      "0000000000000000 <_Z3fooi>:\n   0:\tpxor   %xmm0,%xmm0\n   4:\tcvtsi2sd %edi,%xmm0\n"
      "0000000000000010 <_Z3bari>:\n  10:\tlea    0x1(%rdi),%eax\n");
  REQUIRE(found.size() == 1);
  CHECK(found[0].function == "_Z3fooi");
}

TEST_CASE("zimt_core contains no floating-point instructions") {
  const std::string listing = run("objdump -d --no-show-raw-insn '" ZIMT_CORE_LIB "' 2>&1");
  REQUIRE_MESSAGE(listing.find("file format") != std::string::npos, "objdump failed:\n" << listing.substr(0, 500));
  const auto found = zimt::test::scan_disassembly(listing);
  std::string report;
  for (size_t i = 0; i < found.size() && i < 20; ++i) report += found[i].function + ": " + found[i].line + "\n";
  CHECK_MESSAGE(found.empty(), found.size() << " floating-point instructions in zimt_core, first ones:\n" << report);
}
