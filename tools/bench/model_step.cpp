// Forward + backward time of one batch (compute_gradients) for a model, at several
// thread counts. Plain std::chrono, median of --reps runs after one warm-up.
//   bench_model_step [model=mnist_cnn] [batch=64] [reps=5] [threads=1,2] [norm_activations]
// model: a name in configs/models/ or a model .json file; norm_activations:
// int8 or int16 to override the model's (model_spec.hpp).
#include <tbb/global_control.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "zimt/kernels/gemm.hpp"
#include "zimt/rng.hpp"
#include "zimt/runs/model_spec.hpp"
#include "zimt/train_step.hpp"

namespace {

int run(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "mnist_cnn";
  const int64_t batch = argc > 2 ? std::stoll(argv[2]) : 64;
  const int reps = argc > 3 ? std::stoi(argv[3]) : 5;
  std::vector<int> threads;
  {
    std::stringstream ss(argc > 4 ? argv[4] : "1,2");
    for (std::string t; std::getline(ss, t, ',');) threads.push_back(std::stoi(t));
  }
  const auto dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";
  zimt::ModelSpec spec =
      name.ends_with(".json") ? zimt::runs::load_model_spec_file(name) : zimt::runs::load_named_model_spec(name, dir);
  if (argc > 5) {
    const std::string width = argv[5];
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
  const int64_t m = model.spec.input.numel();
  std::vector<uint8_t> images(static_cast<size_t>(batch * m)), labels(static_cast<size_t>(batch));
  for (size_t i = 0; i < images.size(); ++i)
    images[i] = static_cast<uint8_t>(zimt::philox(1, zimt::Stream::test_data, 1, i)[0]);
  for (size_t n = 0; n < labels.size(); ++n)
    labels[n] = static_cast<uint8_t>(n % static_cast<size_t>(model.spec.classes));
  const zimt::InputNorm norm{561352226, 1323279424};  // 0.1307, 0.3081 in Q32.32
  std::printf("%s: %lld parameters, batch %lld, norm activations %s, kernels: %s\n", name.c_str(),
              static_cast<long long>(model.params.size()), static_cast<long long>(batch),
              zimt::activation_width_name(spec.norm_activations), zimt::kernels::kernel_name());
  for (int t : threads) {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(t));
    zimt::Arena arena;
    zimt::compute_gradients(model, images.data(), labels.data(), batch, norm, arena);  // warm-up
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      zimt::compute_gradients(model, images.data(), labels.data(), batch, norm, arena);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2];
    std::printf("  threads %d: forward+backward %.1f ms (median of %d, min %.1f), %.0f images/s\n", t, med, reps,
                ms.front(), 1000.0 * double(batch) / med);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model_step: %s\n", e.what());
    return 1;
  }
}
