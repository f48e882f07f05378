#pragma once
// Guard rail before allocation: the memory a training run or an evaluation
// will need, estimated from the model and the batch size alone, against a
// limit (by default the machine's: data::machine_memory_limit()). A run that would not fit is refused before any
// allocation, with the estimate in the message, instead of being killed half-way.
#include "zimt/model_spec.hpp"

#include <cstdint>
#include <string>

namespace zimt::runs {

struct MemoryEstimate {
  uint64_t parameters = 0;   // weights, gradients and optimizer state
  uint64_t activations = 0;  // layer outputs, error signals and kernel scratch for one batch
  uint64_t total() const {   // saturating, as the parts
    return activations > ~uint64_t{0} - parameters ? ~uint64_t{0} : parameters + activations;
  }
};

// An upper estimate for training `model` on batches of `batch` samples:
// 16 bytes a parameter (int16 weight, int64 gradient, 6 spare), 16 bytes a
// layer output element (activation, error signal, pre-activation copies; 4x
// for a basic block's intermediates), the conv patch matrices (int16, input
// and error side), and the batch's images. Saturates instead of overflowing.
MemoryEstimate estimate_training_memory(const ModelSpec& model, uint64_t batch);

// "8G", "512M", "64K", "1T" (binary units) or plain bytes; throws
// std::invalid_argument naming the text otherwise.
uint64_t parse_memory_size(const std::string& text);

// Throws std::runtime_error when `estimate` exceeds `limit`:
//   "<what> needs about 37.3 GiB (parameters 0.5 MiB, activations for a batch
//    of 1000000: 37.3 GiB), over the memory limit of 15.6 GiB (the machine's);
//    lower /train/batch_size or raise --memory-limit"
void check_memory(const MemoryEstimate& estimate, uint64_t batch, uint64_t limit, bool limit_is_machine,
                  const std::string& what);

}  // namespace zimt::runs
