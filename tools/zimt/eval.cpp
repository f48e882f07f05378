// `zimt eval CHECKPOINT --data test.zds [--json]`: accuracy, loss, confusion matrix.
#include "commands.hpp"

#include "zimt/runs/checkpoint.hpp"
#include "zimt/runs/config.hpp"
#include "zimt/runs/data_fit.hpp"
#include "zimt/runs/engine.hpp"

#include <tbb/global_control.h>

#include <cstdio>
#include <iostream>
#include <optional>

namespace zimt::cli {

namespace {

void print_table(const runs::EvalResult& e, const std::string& data) {
  std::printf("%s: %llu samples, accuracy %.2f %%, loss %.4f\n\n", data.c_str(),
              static_cast<unsigned long long>(e.samples), 100 * e.accuracy(), e.mean_loss);
  std::printf("confusion matrix (rows: true class, columns: predicted)\n      ");
  for (uint32_t j = 0; j < e.classes; ++j) std::printf("%7u", j);
  std::printf("   recall\n");
  for (uint32_t i = 0; i < e.classes; ++i) {
    uint64_t row = 0;
    std::printf("%5u ", i);
    for (uint32_t j = 0; j < e.classes; ++j) {
      row += e.confusion[i * e.classes + j];
      std::printf("%7llu", static_cast<unsigned long long>(e.confusion[i * e.classes + j]));
    }
    if (row)
      std::printf("   %5.1f %%\n",
                  100.0 * static_cast<double>(e.confusion[i * e.classes + i]) / static_cast<double>(row));
    else
      std::printf("       -\n");
  }
}

}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a dataset: accuracy, loss, confusion matrix");
  struct Options {
    std::string checkpoint, data;
    uint64_t batch = runs::default_config()["train"]["eval_batch"], threads = 0, limit = 0;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("checkpoint", opts->checkpoint, "Checkpoint file (.zck) from a run's checkpoints/ directory")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", opts->data, "Dataset (.zds); default: the run config's /data/test");
  cmd->add_option("--batch-size", opts->batch,
                  "Samples per forward pass; each thread holds one batch's activations (/train/eval_batch)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmd->add_option(
         "--limit", opts->limit,
         "Evaluate N samples only (0 = all): the same fixed pseudo-random subset train's /train/eval_samples uses")
      ->capture_default_str();
  cmd->add_option("--threads", opts->threads, "Worker threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print one JSON object instead of a table");
  cmd->callback([opts]() {
    std::optional<tbb::global_control> threads;
    if (opts->threads > 0) threads.emplace(tbb::global_control::max_allowed_parallelism, opts->threads);
    const runs::Checkpoint ckpt = runs::load_checkpoint(opts->checkpoint);
    // Resolved again: keys added to the config since the checkpoint was written get their defaults.
    const runs::RunConfig config =
        runs::to_run_config(runs::resolve_config(ckpt.config, {}, opts->checkpoint), opts->checkpoint);
    const std::string data_path = opts->data.empty() ? config.test_path : opts->data;
    const data::Dataset data = data::Dataset::open(data_path);
    if (const auto problems = runs::data_fit_problems(data, config.model, "--data"); !problems.empty())
      throw std::runtime_error("--data: " + problems.front().message + " (the checkpoint's model)");
    runs::Engine engine(config);
    engine.load(ckpt.params);
    const uint64_t count = opts->limit ? std::min(opts->limit, data.size()) : data.size();
    const runs::EvalResult e = engine.evaluate(data, runs::eval_subset(data.size(), count), opts->batch);
    if (opts->json) {
      nlohmann::json confusion = nlohmann::json::array();
      for (uint32_t i = 0; i < e.classes; ++i)
        confusion.push_back(
            std::vector<uint64_t>(e.confusion.begin() + i * e.classes, e.confusion.begin() + (i + 1) * e.classes));
      std::cout << nlohmann::json{{"checkpoint", opts->checkpoint}, {"data", data_path},        {"samples", e.samples},
                                  {"step", ckpt.state.step},        {"accuracy", e.accuracy()}, {"loss", e.mean_loss},
                                  {"confusion", confusion}}
                       .dump()
                << '\n';
    } else {
      print_table(e, data_path);
    }
  });
}

}  // namespace zimt::cli
