#include "zimt/runs/trainer.hpp"

#include "zimt/data/atomic_file.hpp"
#include "zimt/data/dataset.hpp"
#include "zimt/data/machine_memory.hpp"
#include "zimt/data_order.hpp"
#include "zimt/runs/checkpoint.hpp"
#include "zimt/runs/config_enums.hpp"
#include "zimt/runs/config_error.hpp"
#include "zimt/runs/data_fit.hpp"
#include "zimt/runs/dir_lock.hpp"
#include "zimt/runs/engine.hpp"
#include "zimt/runs/memory_limit.hpp"
#include "zimt/runs/metrics_log.hpp"
#include "zimt/runs/progress.hpp"
#include "zimt/runs/run_config.hpp"
#include "zimt/version.hpp"

#include <tbb/global_control.h>
#include <tbb/info.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace zimt::runs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

volatile std::sig_atomic_t g_stop_requested = 0;
extern "C" void request_stop(int) { g_stop_requested = 1; }

// SIGINT/SIGTERM finish the current step, write a checkpoint and return.
class StopSignals {
 public:
  StopSignals() {
    g_stop_requested = 0;
    old_int_ = std::signal(SIGINT, request_stop);
    old_term_ = std::signal(SIGTERM, request_stop);
  }
  ~StopSignals() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  bool requested() const { return g_stop_requested != 0; }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

std::string default_run_dir(const RunConfig& c) {
  return "runs/" + c.model.name + "-" + enum_name(kOptimizerTypes, c.optimizer.type);
}

// The datasets must fit the model; problems are named by pointer.
void check_data_fits(const data::Dataset& train, const data::Dataset& test, const RunConfig& c,
                     const std::string& source) {
  ConfigErrors errors = data_fit_problems(train, c.model, "/data/train");
  for (auto& e : data_fit_problems(test, c.model, "/data/test")) errors.push_back(std::move(e));
  if (!errors.empty()) throw ConfigInvalid(source, errors);
}

// The configs must agree on everything that shapes the computation; threads,
// the evaluation batch, output settings and the epoch/step budget may change
// across a resume.
void check_resumable(const json& saved, const json& now, const std::string& source) {
  json a = saved, b = now;
  for (json* j : {&a, &b}) {
    j->erase("output");
    (*j)["train"].erase("threads");
    (*j)["train"].erase("epochs");
    (*j)["train"].erase("max_steps");
    (*j)["train"].erase("log_every");
    (*j)["train"].erase("eval_batch");
  }
  if (a != b) {
    const json diff = json::diff(a, b);
    throw ConfigInvalid(source, {{diff.empty() ? "" : diff[0].value("path", ""),
                                  "differs from the run being resumed (" + std::to_string(diff.size()) +
                                      " difference(s)); use another /output/dir or --overwrite"}});
  }
}

RunData identify(const data::Dataset& train, const data::Dataset& test) {
  return {{train.size(), train.payload_crc32()}, {test.size(), test.payload_crc32()}};
}

// The datasets must be the files the run was trained on: a replaced file
// would silently continue a different run.
void check_same_data(const std::optional<RunData>& saved, const RunData& now, const RunConfig& c,
                     const std::string& source) {
  if (!saved) return;  // a checkpoint that does not record them
  ConfigErrors errors;
  const auto check = [&](const DataIdentity& was, const DataIdentity& is, const char* pointer,
                         const std::string& path) {
    if (was == is) return;
    char text[200];
    std::snprintf(text, sizeof text, "%llu samples, payload crc32 %08x; now %llu samples, crc32 %08x",
                  static_cast<unsigned long long>(was.samples), was.payload_crc32,
                  static_cast<unsigned long long>(is.samples), is.payload_crc32);
    errors.push_back({pointer, path + " is not the dataset the run being resumed used (it had " + text +
                                   "); restore that file, or start a new run (--overwrite)"});
  };
  check(saved->train, now.train, "/data/train", c.train_path);
  check(saved->test, now.test, "/data/test", c.test_path);
  if (!errors.empty()) throw ConfigInvalid(source, errors);
}

// Counters between two evaluations, written into each metrics row.
json empty_totals() {
  return {{"saturated", 0}, {"u_l1", 0},      {"changed", 0},       {"max_abs_w", 0},
          {"trials", 0},    {"fallbacks", 0}, {"act_saturated", 0}, {"train_correct", 0}};
}

void accumulate(json& totals, const StepCounters& out) {
  const auto add = [&](const char* key, int64_t v) { totals[key] = totals[key].get<int64_t>() + v; };
  add("saturated", out.update.saturated);
  add("u_l1", out.update.u_l1);
  add("changed", out.update.changed);
  add("trials", out.update.trials);
  add("fallbacks", out.update.fallback_groups);
  add("act_saturated", out.act_saturated);
  add("train_correct", out.correct);
  totals["max_abs_w"] = out.update.max_abs_w;  // after the latest step
}

// Training images per second of training over all rows (so over resumes
// too): evaluation and checkpoint time excluded, as the PyTorch peer counts.
double training_images_per_s(const std::vector<json>& rows) {
  double images = 0, seconds = 0;
  for (const json& row : rows) {
    const double s = row.value("train_s", 0.0);
    images += row.value("images_per_s", 0.0) * s;
    seconds += s;
  }
  return seconds > 0 ? images / seconds : 0.0;
}

// Rank 0's resume point on every process of `group`: the checkpoint's bytes
// are broadcast, so the other processes need not see the run directory.
void share_resume_point(const ProcessGroup& group, std::optional<ResumePoint>& point) {
  std::string bytes = point ? encode_checkpoint(point->checkpoint) : std::string();
  group.broadcast(bytes);
  if (group.rank() != 0 && !bytes.empty()) point = ResumePoint{{}, decode_checkpoint(bytes, "checkpoint from rank 0")};
}

struct Clock {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};

}  // namespace

int train(const RunConfig& config, const json& resolved, const TrainOptions& options) {
  const std::string source = options.source.empty() ? "config" : options.source;
  // Sizes first: the cosine schedule needs the run's length.
  data::Dataset train_data = data::Dataset::open(config.train_path);
  data::Dataset test_data = data::Dataset::open(config.test_path);
  const uint64_t steps_per_epoch = (train_data.size() + config.batch_size - 1) / config.batch_size;
  const uint64_t total_steps = run_length(config, train_data.size());
  RunConfig c = config;
  set_run_length(c, total_steps);
  check_data_fits(train_data, test_data, c, source);
  const uint64_t memory_limit = options.memory_limit ? options.memory_limit : data::machine_memory_limit();
  check_memory(estimate_training_memory(c.model, c.batch_size), c.batch_size, memory_limit, options.memory_limit == 0,
               source + ": training " + c.model.name);

  std::optional<tbb::global_control> threads;
  if (c.threads > 0) threads.emplace(tbb::global_control::max_allowed_parallelism, c.threads);

  // Rank 0 of a group (or the process alone) is the writer: it alone touches the run directory.
  const ProcessGroup* group = options.group;
  const bool writer = group == nullptr || group->rank() == 0;
  const BatchReducer& reducer = group ? group->reducer() : single_process();
  const fs::path dir = c.output_dir.empty() ? default_run_dir(c) : c.output_dir;
  const fs::path ckpt_dir = dir / "checkpoints";
  std::optional<DirLock> lock;  // a second process on this run directory is refused
  std::optional<ResumePoint> resume_point;
  if (writer) {
    lock.emplace(dir, "zimt train");
    for (const fs::path& d : {dir, ckpt_dir}) data::remove_stale_temporaries(d.string());  // of a killed run
    const auto existing = list_checkpoints(ckpt_dir);
    const bool has_run = fs::exists(dir / "metrics.jsonl") || !existing.empty();
    if (has_run && !options.resume && !options.overwrite)
      throw std::runtime_error(dir.string() +
                               ": already holds a run; pass --resume to continue it or --overwrite to "
                               "start again");
    if (options.overwrite)
      for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path() != lock->path()) fs::remove_all(entry.path());
    if (options.resume)
      resume_point = load_newest_valid_checkpoint(
          ckpt_dir, [](const std::string& warning) { std::fprintf(stderr, "zimt: %s\n", warning.c_str()); });
  }
  if (group) share_resume_point(*group, resume_point);

  Engine engine(c);
  TrainState state;
  state.seed = c.seed;
  state.optimizer_totals = empty_totals();
  if (resume_point) {
    const Checkpoint& ckpt = resume_point->checkpoint;
    check_resumable(ckpt.config, resolved, source);
    check_same_data(ckpt.data, identify(train_data, test_data), c, source);
    engine.load(ckpt.params);
    state = ckpt.state;
  } else {
    engine.initialize(c.init, c.seed);  // a function of the seed: the same on every process
    if (options.resume && writer) fs::remove(dir / "metrics.jsonl");  // --resume with nothing saved: a fresh start
  }
  std::optional<MetricsLog> metrics;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(nullptr, std::fclose);
  if (writer) {
    data::write_file_atomic((dir / "config.resolved.json").string(), resolved.dump(2) + "\n");
    metrics.emplace(dir, state.metrics_lines);
    log.reset(std::fopen((dir / "train.log").c_str(), "a"));
    if (!log) throw std::runtime_error((dir / "train.log").string() + ": cannot open for writing");
  }
  Progress progress(stderr, c.log_every, options.quiet || !writer);
  Progress log_lines(writer ? log.get() : stderr, c.log_every, !writer);

  StopSignals signals;
  // A stop is taken at the same step by every process of a group (a signal
  // may reach them at different times): the step's flags are summed.
  const auto stop_requested = [&]() {
    if (group == nullptr) return signals.requested();
    int64_t stops = signals.requested() ? 1 : 0;
    reducer.sum(&stops, 1);
    return stops > 0;
  };
  Clock clock;
  const double elapsed_before = state.elapsed_s;
  const uint64_t start_step = state.step;
  uint64_t images_since_eval = 0;
  double train_s_since_eval = 0;  // seconds inside train_batch since the previous row

  auto save = [&]() {
    if (!writer) return;
    Checkpoint ckpt{state, resolved, engine.params(), identify(train_data, test_data)};
    ckpt.state.elapsed_s = elapsed_before + clock.seconds();
    save_checkpoint(checkpoint_path(ckpt_dir, state.step), ckpt);
    prune_checkpoints(ckpt_dir, c.keep_checkpoints);
  };
  const std::vector<uint32_t> all_test = eval_subset(test_data.size(), test_data.size());
  const std::vector<uint32_t> test_subset = eval_subset(test_data.size(), c.eval_samples);
  auto evaluate_now = [&](bool full) {
    const double eval_start = clock.seconds();
    const uint64_t count = full || c.eval_samples == 0 ? test_data.size() : std::min(c.eval_samples, test_data.size());
    const EvalResult e = engine.evaluate(test_data, count == test_data.size() ? all_test : test_subset, c.eval_batch);
    const double now = clock.seconds();
    const double acc = static_cast<double>(e.correct) / static_cast<double>(count);
    json row = {
        {"step", state.step},
        {"epoch", static_cast<double>(state.epoch) +
                      static_cast<double>(state.epoch_position) / static_cast<double>(train_data.size())},
        {"train_loss", state.loss_count ? from_q16(state.loss_sum) / static_cast<double>(state.loss_count) : 0.0},
        {"test_loss", e.mean_loss},
        {"test_acc", acc},
        {"eval_samples", count},
        {"images_per_s", static_cast<double>(images_since_eval) / std::max(train_s_since_eval, 1e-9)},
        {"train_s", train_s_since_eval},
        {"eval_s", now - eval_start},
        {"elapsed_s", elapsed_before + now}};
    for (auto it = state.optimizer_totals.begin(); it != state.optimizer_totals.end(); ++it) row[it.key()] = it.value();
    row["train_acc"] =
        state.loss_count ? row["train_correct"].get<double>() / static_cast<double>(state.loss_count) : 0.0;
    row.erase("train_correct");
    metrics->append(row);
    state.metrics_lines = metrics->lines();
    state.best_test_acc = std::max(state.best_test_acc, acc);
    state.loss_sum = 0;
    state.loss_count = 0;
    state.optimizer_totals = empty_totals();
    images_since_eval = 0;
    train_s_since_eval = 0;
    return row;
  };

  std::vector<uint32_t> order = epoch_order(static_cast<uint32_t>(train_data.size()), c.seed, state.epoch, c.shuffle);
  bool interrupted = false;
  while (state.step < total_steps) {
    if (stop_requested()) {
      interrupted = true;
      break;
    }
    const uint64_t begin = state.epoch_position;
    const uint64_t count = std::min<uint64_t>(c.batch_size, train_data.size() - begin);
    const double step_start = clock.seconds();
    // This process's share of the global batch order[begin, begin + count).
    const Share mine = group ? share_of(count, group->rank(), group->size()) : Share{0, count};
    const StepCounters out =
        engine.train_batch(train_data, std::span(order).subspan(begin + mine.first, mine.size), state.step, reducer);
    train_s_since_eval += clock.seconds() - step_start;
    state.loss_sum += out.loss_sum_q16;
    state.loss_count += count;
    accumulate(state.optimizer_totals, out);
    state.step += 1;
    state.epoch_position += count;
    images_since_eval += count;
    const bool epoch_end = state.epoch_position >= train_data.size();

    ProgressState p;
    p.step = state.step;
    p.total_steps = total_steps;
    p.epoch = state.epoch;
    p.epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;
    p.train_loss = from_q16(state.loss_sum) / static_cast<double>(std::max<uint64_t>(state.loss_count, 1));
    const double run_s = clock.seconds();
    p.images_per_s = static_cast<double>((state.step - start_step) * c.batch_size) / std::max(run_s, 1e-9);
    p.eta_s = run_s / static_cast<double>(state.step - start_step) * static_cast<double>(total_steps - state.step);
    p.last_acc = state.best_test_acc > 0 ? state.best_test_acc : -1;

    const bool last = state.step == total_steps;
    if (writer && (epoch_end || last || (c.eval_every > 0 && state.step % c.eval_every == 0))) {
      const json row = evaluate_now(epoch_end || last);
      p.last_acc = row["test_acc"];
      if (epoch_end || last) {
        // Two decimals of a percent resolve one image in 10,000.
        char text[160];
        std::snprintf(text, sizeof text, "epoch %llu step %llu: test accuracy %.2f %%, test loss %.4f",
                      static_cast<unsigned long long>(state.epoch + 1), static_cast<unsigned long long>(state.step),
                      100 * row["test_acc"].get<double>(), row["test_loss"].get<double>());
        const std::string line = text;
        progress.message(line);
        log_lines.message(line);
      }
    }
    if (epoch_end) {
      state.epoch += 1;
      state.epoch_position = 0;
      order = epoch_order(static_cast<uint32_t>(train_data.size()), c.seed, state.epoch, c.shuffle);
    }
    if (epoch_end || last || (c.checkpoint_every > 0 && state.step % c.checkpoint_every == 0)) save();
    progress.update(p);
    log_lines.update(p);
  }
  progress.finish();
  if (interrupted) save();
  // Every process leaves only once rank 0 has written its last checkpoint and
  // the summary (the sum is collective): a process that exits with 130 first
  // would make the launcher end rank 0 while it writes.
  const auto leave_together = [&]() {
    int64_t here = 1;
    reducer.sum(&here, 1);
  };
  if (!writer) {
    leave_together();
    return interrupted ? 130 : 0;
  }

  const auto rows = read_metrics(dir / "metrics.jsonl");
  const double wall = elapsed_before + clock.seconds();
  json summary = {{"status", interrupted ? "running" : "finished"},
                  {"zimt_version", kVersion},
                  {"steps", state.step},
                  {"epochs", static_cast<double>(state.epoch) +
                                 static_cast<double>(state.epoch_position) / static_cast<double>(train_data.size())},
                  {"best_test_acc", state.best_test_acc},
                  {"wall_s", wall},
                  {"images_per_s", training_images_per_s(rows)}};
  if (!rows.empty()) {
    summary["final_test_acc"] = rows.back()["test_acc"];
    summary["final_test_loss"] = rows.back()["test_loss"];
  }
  data::write_file_atomic((dir / "summary.json").string(), summary.dump(2) + "\n");
  if (group) leave_together();
  if (interrupted) {
    progress.message("interrupted at step " + std::to_string(state.step) + "; continue with --resume");
    return 130;
  }
  return 0;
}

}  // namespace zimt::runs
