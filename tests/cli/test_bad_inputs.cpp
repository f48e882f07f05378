// The bad-input corpus (tests/data/bad, written by its `generate` script):
// every command of cases.tsv, run on a scratch copy of the corpus, must end
// with its stated exit code and print its stated error fragment. None may
// crash (a signal gives an exit code of 128 or more).
#include "cli_run.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using zimt::test::run_zimt;

namespace {

struct BadCase {
  int line = 0;
  int exit_code = 0;
  std::string fragment;
  std::string args;
};

std::vector<BadCase> read_cases(const fs::path& tsv) {
  std::ifstream in(tsv);
  std::vector<BadCase> cases;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab1 = line.find('\t'), tab2 = line.find('\t', tab1 + 1);
    REQUIRE_MESSAGE(tab2 != std::string::npos, tsv.string() << ":" << number << ": expected three columns");
    cases.push_back(
        {number, std::stoi(line.substr(0, tab1)), line.substr(tab1 + 1, tab2 - tab1 - 1), line.substr(tab2 + 1)});
  }
  return cases;
}

}  // namespace

TEST_CASE("every input of the bad-input corpus gets its clear error and exit code, never a crash") {
  const fs::path corpus = fs::path(ZIMT_SOURCE_DIR) / "tests/data/bad";
  const auto cases = read_cases(corpus / "cases.tsv");
  REQUIRE(cases.size() >= 50);
  zimt::test::ScratchDir dir("bad_inputs");
  fs::copy(corpus, dir.path, fs::copy_options::recursive);
  std::vector<std::string> tools_seen;
  for (const BadCase& c : cases) {
    const auto r = run_zimt(c.args, dir.path);
    INFO("cases.tsv:" << c.line << ": zimt " << c.args << "\n" << r.output);
    CHECK(r.exit_code == c.exit_code);
    CHECK(r.output.find(c.fragment) != std::string::npos);
    CHECK(r.output.find("terminate") == std::string::npos);
    tools_seen.push_back(c.args.substr(0, c.args.find(' ')));
  }
  for (const char* tool : {"convert", "inspect", "train", "eval", "sweep", "report", "compare"})
    CHECK_MESSAGE(std::find(tools_seen.begin(), tools_seen.end(), std::string(tool)) != tools_seen.end(), tool);
  CHECK_FALSE(fs::exists(dir.path / "out.zds"));  // no failed conversion left a file
}
