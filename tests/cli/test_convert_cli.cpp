// The real `zimt` binary on datasets: convert + inspect succeed with a
// one-line summary, bad input exits non-zero with a one-line error naming the
// file, and no output file is left behind.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "../data/dataset_fixtures.hpp"

using zimt::test::idx_images;
using zimt::test::idx_labels;
using zimt::test::TempDir;
using zimt::test::write_bytes;

namespace {

struct Result {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs `zimt <args>` with its output in files of `dir` (named .stdout/.stderr).
Result run_zimt(const TempDir& dir, const std::string& args) {
  const std::string out = dir / ".stdout", err = dir / ".stderr";
  const int status = std::system((std::string(ZIMT_CLI) + " " + args + " >" + out + " 2>" + err).c_str());
  Result r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

}  // namespace

TEST_CASE("zimt convert and inspect: IDX to .zds, summary line, header and histogram") {
  TempDir dir;
  write_bytes(dir / "im", zimt::test::gzip(idx_images(20, 3, 4)));
  write_bytes(dir / "lb", idx_labels(20, 4));
  auto r = run_zimt(dir, "convert --images " + dir / "im" + " --labels " + dir / "lb" + " -o " + dir / "out.zds" +
                             " --split 5 --split-out " + dir / "val.zds");
  CHECK(r.exit_code == 0);
  CHECK(r.err == "");
  CHECK(r.out.find(dir / "out.zds" + ": 15 samples, shape 1x3x4, 4 classes; " + dir / "val.zds" +
                   ": 5 held-out samples (") == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);

  r = run_zimt(dir, "inspect --json " + dir / "out.zds");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("\"samples\":15,") != std::string::npos);
  CHECK(r.out.find("\"histogram\":[") != std::string::npos);

  r = run_zimt(dir, "inspect --index 2 " + dir / "val.zds");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("samples    5\n") != std::string::npos);
  CHECK(r.out.find("shape      1x3x4 (C x H x W)\n") != std::string::npos);
  CHECK(r.out.find("sample 2, label ") != std::string::npos);
}

TEST_CASE("zimt convert: bad input exits non-zero with one line naming the file, no output left") {
  TempDir dir;
  auto b = idx_images(20, 3, 4);
  b.resize(b.size() - 1);
  write_bytes(dir / "im", b);
  write_bytes(dir / "lb", idx_labels(20, 4));
  auto r = run_zimt(dir, "convert --images " + dir / "im" + " --labels " + dir / "lb" + " -o " + dir / "out.zds");
  CHECK(r.exit_code != 0);
  CHECK(r.err == "zimt: error: " + dir / "im" + ": truncated: 239 data bytes, dimensions say 240\n");
  CHECK(dir.files().size() == 2);

  write_bytes(dir / "im", idx_images(20, 3, 4));
  write_bytes(dir / "out.zds", {0});
  r = run_zimt(dir, "convert --images " + dir / "im" + " --labels " + dir / "lb" + " -o " + dir / "out.zds");
  CHECK(r.exit_code != 0);
  CHECK(r.err == "zimt: error: " + dir / "out.zds" + ": already exists (pass --force to overwrite)\n");

  r = run_zimt(dir, "inspect " + dir / "out.zds");
  CHECK(r.exit_code != 0);
  CHECK(r.err == "zimt: error: " + dir / "out.zds" + ": truncated: 1 bytes, a .zds header alone is 64\n");
}

TEST_CASE("zimt synth: the same seed writes the same bytes") {
  TempDir dir;
  const std::string args = " --samples 300 --classes 4 --shape 1,12,12 --seed 9 --noise 0.1";
  CHECK(run_zimt(dir, "synth -o " + dir / "a.zds" + args).exit_code == 0);
  CHECK(run_zimt(dir, "synth -o " + dir / "b.zds" + args).exit_code == 0);
  CHECK(zimt::test::read_bytes(dir / "a.zds") == zimt::test::read_bytes(dir / "b.zds"));
  const auto r = run_zimt(dir, "synth -o " + dir / "c.zds --samples 10 --classes 1");
  CHECK(r.exit_code != 0);
  CHECK(r.err == "zimt: error: --classes: must be in 2..256\n");
}
