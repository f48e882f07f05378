// The PyTorch peer (tools/torch): its Python tests, training on a dataset
// written by `zimt synth` (the two .zds implementations agree), and its error
// when the interpreter has no torch. CI machines may lack python3-torch (it is
// large): then the Python tests are skipped with a MESSAGE, not failed.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

const std::string kPython = "/usr/bin/python3";
const std::string kTorchDir = std::string(ZIMT_SOURCE_DIR) + "/tools/torch";

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs a shell command with its output captured in a temporary file.
Result run(const std::string& command) {
  const fs::path log = fs::temp_directory_path() / ("zimt_torch_test_" + std::to_string(getpid()) + ".log");
  const int status = std::system((command + " > " + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

bool python_has_torch() { return fs::exists(kPython) && run(kPython + " -c 'import torch, numpy'").exit_code == 0; }

}  // namespace

TEST_CASE("torch reference: python tests pass") {
  if (!python_has_torch()) {
    MESSAGE("skipped: " << kPython << " cannot import torch and numpy (apt-get install python3-torch)");
    return;
  }
  // -B: no __pycache__ in the source tree
  const Result r = run(kPython + " -B -m unittest discover -s " + kTorchDir + " -p 'test_*.py'");
  INFO(r.output);
  CHECK(r.exit_code == 0);
}

TEST_CASE("torch reference: trains on a dataset written by zimt synth") {
  if (!python_has_torch()) {
    MESSAGE("skipped: " << kPython << " cannot import torch and numpy (apt-get install python3-torch)");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("zimt_torch_synth_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string d = dir.string();
  const std::string synth = std::string(ZIMT_CLI) + " synth --shape 1,8,8 --classes 4 --force";
  REQUIRE(run(synth + " --samples 256 --seed 1 -o " + d + "/train.zds").exit_code == 0);
  REQUIRE(run(synth + " --samples 64 --seed 2 -o " + d + "/test.zds").exit_code == 0);
  const Result r = run(kPython + " -B " + kTorchDir + "/zimt_torch.py --train " + d + "/train.zds --test " + d +
                       "/test.zds --model mnist_cnn --opt zim --max-steps 3 --eval-every 2 --out " + d + "/run");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  std::ifstream summary(dir / "run" / "summary.json");
  std::stringstream text;
  text << summary.rdbuf();
  CHECK(text.str().find("\"status\": \"finished\"") != std::string::npos);
  std::ifstream metrics(dir / "run" / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  CHECK(lines == 2);  // step 2 (eval_every) and step 3 (the last)
  fs::remove_all(dir);
}

TEST_CASE("torch reference: a python without torch gets a clear error") {
  if (!fs::exists(kPython)) {
    MESSAGE("skipped: no " << kPython);
    return;
  }
  // -I -S: no site-packages, so neither numpy nor torch can be imported
  const Result r = run(kPython + " -B -I -S " + kTorchDir + "/zimt_torch.py --train a.zds --test b.zds --out run");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("PyTorch is not installed") != std::string::npos);
  CHECK(r.output.find("apt-get install python3-torch") != std::string::npos);
}
