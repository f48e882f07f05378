// Wall time of the whole training step (train_step: input normalisation,
// forward, loss, backward and the optimizer's update) for a model, per
// optimizer and thread count, with the heap allocations each step makes and
// the process's peak RSS. Arguments and options: kUsage below
// (bench_model_step --help).
// Heap allocations are the calls of the global operator new made by this
// process (replaced below; TBB's own task allocator is not counted).
#include <sys/resource.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "zimt/kernels/gemm.hpp"
#include "zimt/layer_kinds.hpp"
#include "zimt/optim/optimizer.hpp"
#include "zimt/rng.hpp"
#include "zimt/runs/model_spec.hpp"
#include "zimt/train_step.hpp"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Every heap allocation of the process goes through these (the sized and
// array forms of delete default to the plain ones).
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return ::operator new(size); }
void* operator new(size_t size, std::align_val_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const size_t a = static_cast<size_t>(align);
  if (void* p = std::aligned_alloc(a, (std::max<size_t>(size, 1) + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size, std::align_val_t align) { return ::operator new(size, align); }
// Not inlined: GCC would otherwise pair a visible new with free() and warn
// (-Wmismatched-new-delete), though malloc is what the new above calls.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { ::operator delete(p); }
void operator delete(void* p, size_t) noexcept { ::operator delete(p); }
void operator delete[](void* p, size_t) noexcept { ::operator delete(p); }
void operator delete(void* p, std::align_val_t) noexcept { ::operator delete(p); }
void operator delete[](void* p, std::align_val_t) noexcept { ::operator delete(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { ::operator delete(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { ::operator delete(p); }

namespace {

// The usage text (--help).
constexpr const char* kUsage =
    "bench_model_step [model=mnist_cnn] [batch=64] [reps=5] [threads=1,2] [norm_activations]\n"
    "                 [--optimizer LIST] [--profile] [--json FILE]\n"
    "Wall time of the whole training step (input normalisation, forward, loss, backward and the\n"
    "optimizer's update): median of `reps` steps after one warm-up step, per optimizer and thread\n"
    "count, with the heap allocations of the first step and of all later ones together, and the\n"
    "process's peak RSS.\n"
    "  model             a name in configs/models/ or a model .json file\n"
    "  threads           comma-separated thread counts\n"
    "  norm_activations  int8 or int16, overriding the model's\n"
    "  --optimizer LIST  comma-separated: zim_authors (n = d, c = 1), zim_zero_inflated (n = d,\n"
    "                    alpha = 100), int_sgd (lr = 0.01), none (forward + backward only);\n"
    "                    default zim_zero_inflated\n"
    "  --profile         time per layer (forward, backward), input, loss and update\n"
    "  --json FILE       the same results as one JSON object\n"
    "  -h, --help        this text\n";

struct Options {
  std::string model = "mnist_cnn";
  int64_t batch = 64;
  int reps = 5;
  std::vector<int> threads{1, 2};
  std::string norm_activations;
  std::vector<std::string> optimizers{"zim_zero_inflated"};
  bool profile = false;
  std::string json;
  bool help = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(t);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help")
      o.help = true;
    else if (a == "--optimizer")
      o.optimizers = split(value());
    else if (a == "--profile")
      o.profile = true;
    else if (a == "--json")
      o.json = value();
    else if (a.starts_with("--"))
      throw std::invalid_argument("unknown option " + a);
    else
      positional.push_back(a);
  }
  if (positional.size() > 0) o.model = positional[0];
  if (positional.size() > 1) o.batch = std::stoll(positional[1]);
  if (positional.size() > 2) o.reps = std::stoi(positional[2]);
  if (positional.size() > 3) {
    o.threads.clear();
    for (const std::string& t : split(positional[3])) o.threads.push_back(std::stoi(t));
  }
  if (positional.size() > 4) o.norm_activations = positional[4];
  if (positional.size() > 5) throw std::invalid_argument("too many arguments");
  if (o.batch < 1 || o.reps < 1) throw std::invalid_argument("batch and reps must be >= 1");
  return o;
}

// The optimizer named on the command line; has_update is false for "none".
zimt::optim::OptimizerParams optimizer_params(const std::string& name, bool& has_update) {
  using namespace zimt::optim;
  OptimizerParams p;
  has_update = true;
  if (name == "zim_authors") {
    p.type = OptimizerType::zim;
    p.zim.rule = ZimRule::authors;
  } else if (name == "zim_zero_inflated") {
    p.type = OptimizerType::zim;
    p.zim.rule = ZimRule::zero_inflated;
    p.zim.alpha = 100 * q32_one;
  } else if (name == "int_sgd") {
    p.type = OptimizerType::int_sgd;
    p.int_sgd.lr = q32_one / 100;
  } else if (name == "none") {
    has_update = false;
  } else {
    throw std::invalid_argument("unknown optimizer '" + name + "' (zim_authors, zim_zero_inflated, int_sgd or none)");
  }
  return p;
}

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

struct Result {
  int threads = 0;
  std::string optimizer;
  double median_ms = 0, min_ms = 0;
  uint64_t allocs_first = 0, allocs_later = 0;  // the first step's; all the timed steps' together
  zimt::StepProfile profile;                    // summed over the timed steps
};

void print_profile(const zimt::Model& model, const Result& r, int reps) {
  const auto avg = [&](int64_t ns) { return ms(ns) / reps; };
  std::printf("    %-3s %-12s %-16s %10s %10s\n", "#", "layer", "kind", "fwd ms", "bwd ms");
  int64_t fwd = 0, bwd = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const zimt::ModelLayer& l = model.layers[i];
    const int64_t f = r.profile.forward_ns[i], b = r.profile.backward_ns[i];
    fwd += f;
    bwd += b;
    std::printf("    %-3zu %-12s %-16s %10.2f %10.2f\n", i, l.name.c_str(), zimt::layer_kind_name(l.kind), avg(f),
                avg(b));
  }
  std::printf("    %-33s %10.2f %10.2f\n", "layers", avg(fwd), avg(bwd));
  std::printf("    input %.2f ms, loss %.2f ms, update %.2f ms\n", avg(r.profile.input_ns), avg(r.profile.loss_ns),
              avg(r.profile.update_ns));
}

std::string json_profile(const zimt::Model& model, const Result& r, int reps) {
  std::ostringstream s;
  const auto avg = [&](int64_t ns) { return ms(ns) / reps; };
  s << "{\"layers\": [";
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const zimt::ModelLayer& l = model.layers[i];
    s << (i ? ", " : "") << "{\"name\": \"" << l.name << "\", \"kind\": \"" << zimt::layer_kind_name(l.kind)
      << "\", \"forward_ms\": " << avg(r.profile.forward_ns[i])
      << ", \"backward_ms\": " << avg(r.profile.backward_ns[i]) << "}";
  }
  s << "], \"input_ms\": " << avg(r.profile.input_ns) << ", \"loss_ms\": " << avg(r.profile.loss_ns)
    << ", \"update_ms\": " << avg(r.profile.update_ns) << "}";
  return s.str();
}

int run(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  if (opt.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const auto dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";
  zimt::ModelSpec spec = opt.model.ends_with(".json") ? zimt::runs::load_model_spec_file(opt.model)
                                                      : zimt::runs::load_named_model_spec(opt.model, dir);
  if (!opt.norm_activations.empty()) {
    const std::string& width = opt.norm_activations;
    if (width != "int8" && width != "int16") throw std::invalid_argument("norm_activations must be int8 or int16");
    spec.norm_activations = width == "int8" ? zimt::ActivationWidth::int8 : zimt::ActivationWidth::int16;
  }
  zimt::Model model = zimt::build_model(spec);
  // A dense integer start (counts 0..4 with random signs) and random images.
  for (size_t i = 0; i < model.params.size(); ++i) {
    const auto b = zimt::philox(1, zimt::Stream::test_data, 0, i);
    int c = 0;
    for (int k = 0; k < 4; ++k) c += (b[static_cast<size_t>(k)] & 3u) == 0;
    model.params.w[i] = static_cast<int16_t>((b[0] >> 31) ? -c : c);
  }
  // Every run starts from these weights and exponents, with zero gradients.
  // Not a copy of the whole ParamSet: its gradients (8 bytes a parameter)
  // would count in the peak RSS reported below, which is the step's.
  const std::vector<int16_t> start_w = model.params.w;
  const std::vector<zimt::ParamInfo> start_tensors = model.params.tensors;
  const int64_t batch = opt.batch, m = model.spec.input.numel();
  std::vector<uint8_t> images(static_cast<size_t>(batch * m)), labels(static_cast<size_t>(batch));
  for (size_t i = 0; i < images.size(); ++i)
    images[i] = static_cast<uint8_t>(zimt::philox(1, zimt::Stream::test_data, 1, i)[0]);
  for (size_t n = 0; n < labels.size(); ++n)
    labels[n] = static_cast<uint8_t>(n % static_cast<size_t>(model.spec.classes));
  const zimt::InputNorm norm{561352226, 1323279424};  // 0.1307, 0.3081 in Q32.32
  std::printf("%s: %lld parameters, batch %lld, norm activations %s, kernels: %s\n", opt.model.c_str(),
              static_cast<long long>(model.params.size()), static_cast<long long>(batch),
              zimt::activation_width_name(spec.norm_activations), zimt::kernels::kernel_name());

  std::vector<Result> results;
  for (const int t : opt.threads) {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(t));
    for (const std::string& name : opt.optimizers) {
      bool has_update = true;
      zimt::optim::Optimizer optimizer(optimizer_params(name, has_update));
      model.params.w = start_w;
      model.params.tensors = start_tensors;
      std::fill(model.params.g.begin(), model.params.g.end(), int64_t{0});
      zimt::Arena arena;
      Result r;
      r.threads = t;
      r.optimizer = name;
      uint64_t step = 0;
      const auto one_step = [&](zimt::StepProfile* profile) {
        if (has_update)
          zimt::train_step(model, optimizer, images.data(), labels.data(), batch, norm, 1, step++, arena, profile);
        else
          zimt::compute_gradients(model, images.data(), labels.data(), batch, norm, arena, profile);
      };
      // Sized before counting, so that only the step's own allocations count.
      std::vector<double> times;
      times.reserve(static_cast<size_t>(opt.reps));
      r.profile.forward_ns.assign(model.layers.size(), 0);
      r.profile.backward_ns.assign(model.layers.size(), 0);
      const uint64_t a0 = g_allocations.load();
      one_step(nullptr);  // warm-up: sizes the arena and the optimizer's workspace
      // The next step's reset merges the blocks the arena grew by into one
      // (arena.hpp): an allocation the first step causes, so it counts there.
      arena.reset();
      const uint64_t a1 = g_allocations.load();
      for (int rep = 0; rep < opt.reps; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        one_step(opt.profile ? &r.profile : nullptr);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      const uint64_t a2 = g_allocations.load();
      std::sort(times.begin(), times.end());
      r.median_ms = times[times.size() / 2];
      r.min_ms = times.front();
      r.allocs_first = a1 - a0;
      r.allocs_later = a2 - a1;
      std::printf(
          "  threads %d, %s: %s %.2f ms (median of %d, min %.2f), %.0f images/s; heap allocations: "
          "first step %llu, then %llu in %d steps\n",
          t, name.c_str(), has_update ? "step" : "forward+backward", r.median_ms, opt.reps, r.min_ms,
          1000.0 * static_cast<double>(batch) / r.median_ms, static_cast<unsigned long long>(r.allocs_first),
          static_cast<unsigned long long>(r.allocs_later), opt.reps);
      if (opt.profile) print_profile(model, r, opt.reps);
      results.push_back(std::move(r));
    }
  }
  const long rss = peak_rss_kb();
  std::printf("  peak RSS %.1f MB\n", static_cast<double>(rss) / 1024.0);
  if (!opt.json.empty()) {
    std::ofstream f(opt.json);
    f << "{\"model\": \"" << opt.model << "\", \"batch\": " << batch << ", \"kernels\": \""
      << zimt::kernels::kernel_name() << "\", \"parameters\": " << model.params.size() << ", \"peak_rss_kb\": " << rss
      << ", \"runs\": [";
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      f << (i ? ", " : "") << "{\"threads\": " << r.threads << ", \"optimizer\": \"" << r.optimizer
        << "\", \"median_ms\": " << r.median_ms << ", \"min_ms\": " << r.min_ms
        << ", \"allocations_first_step\": " << r.allocs_first << ", \"allocations_later\": " << r.allocs_later;
      if (opt.profile) f << ", \"profile\": " << json_profile(model, r, opt.reps);
      f << "}";
    }
    f << "]}\n";
    if (!f) throw std::runtime_error("cannot write " + opt.json);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model_step: %s (--help: usage)\n", e.what());
    return 1;
  }
}
