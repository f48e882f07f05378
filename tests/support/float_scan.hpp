#pragma once
// Finds floating-point arithmetic and conversion instructions in objdump -d
// output. Moves, shuffles and bitwise ops on vector registers are allowed
// (they carry integers too); anything that computes on or converts to/from
// a floating-point value is not.
#include <string>
#include <vector>

namespace zimt::test {

struct FloatInstruction {
  std::string function;  // symbol the instruction belongs to
  std::string line;      // the disassembly line
};

bool is_float_mnemonic(const std::string& mnemonic);
std::vector<FloatInstruction> scan_disassembly(const std::string& objdump_output);

}  // namespace zimt::test
