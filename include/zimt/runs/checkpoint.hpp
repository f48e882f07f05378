#pragma once
// Checkpoints: everything a run needs to continue bit-exactly.
//
// Layout (little-endian):
//   offset 0   char[8]  magic "ZIMTCKPT"
//          8   u32      format version (1)
//         12   u32      CRC-32 of bytes [24, end)
//         16   u64      payload size in bytes (file size - 24)
//         24   u32      metadata size M, then M bytes of JSON (the TrainState
//                       below plus the resolved config, for humans and checks)
//              u8       weight storage policy (8 or 16)
//              u32      tensor count T, then per tensor:
//                         u16 name length + name bytes, u8 kind, u8 rank,
//                         rank x i64 shape, i32 w_exp, i32 g_exp, u64 numel
//              weights  all tensors in arena order: one i8 per weight under
//                       the int8 policy, one i16 under int16
// Optimizers and samplers are counter-based (Philox keyed by seed, step and
// index), so (seed, step) is their whole random state; data order is a
// function of (seed, epoch), so (epoch, position) is the loader's.
// Reading verifies magic, version, sizes, CRC and every field's range before
// anything is used; a bad file gives "<path>: <what is wrong>".
#include "zimt/param.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace zimt::runs {

struct TrainState {
  uint64_t step = 0;            // optimizer steps done
  uint64_t epoch = 0;           // current epoch (0-based)
  uint64_t epoch_position = 0;  // samples of this epoch already consumed
  uint64_t seed = 0;
  uint64_t metrics_lines = 0;  // lines of metrics.jsonl written up to this state
  int64_t loss_sum = 0;        // Q16 sum of the per-sample training losses since the last evaluation
  uint64_t loss_count = 0;     // training samples in loss_sum
  double best_test_acc = 0;
  double elapsed_s = 0;                                        // training wall time before this state
  nlohmann::json optimizer_totals = nlohmann::json::object();  // counters for the next metrics line
};

// Which dataset file a run read: its sample count and payload CRC-32 (the
// .zds header's), so a resume can tell that a file was replaced.
struct DataIdentity {
  uint64_t samples = 0;
  uint32_t payload_crc32 = 0;
  bool operator==(const DataIdentity&) const = default;
};

struct RunData {
  DataIdentity train, test;
};

struct Checkpoint {
  TrainState state;
  nlohmann::json config;        // the resolved config of the run
  ParamSet params;              // weights, exponents and tensor table (gradients are not stored)
  std::optional<RunData> data;  // the datasets trained and evaluated on (absent in older checkpoints)
};

// Serialises to bytes / parses bytes (throws std::runtime_error prefixed by `what`).
std::string encode_checkpoint(const Checkpoint& ckpt);
Checkpoint decode_checkpoint(const std::string& bytes, const std::string& what);

// Atomic write; read with full verification.
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt);
Checkpoint load_checkpoint(const std::filesystem::path& path);

// checkpoints/step-00001234.zck naming, newest last; prune keeps the newest K.
std::filesystem::path checkpoint_path(const std::filesystem::path& dir, uint64_t step);
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);
void prune_checkpoints(const std::filesystem::path& dir, size_t keep);

// What --resume continues from: the newest checkpoint of `dir` that reads
// back whole. Each newer one that does not (truncated, corrupt) is renamed to
// <name>.bad, out of the listing, and `warn` receives
//   "<path>: <what is wrong>; set aside as <name>.bad, resuming from <older name>".
// nullopt when `dir` holds no checkpoint; throws std::runtime_error listing
// every problem when it holds some but none is valid (nothing is renamed then).
struct ResumePoint {
  std::filesystem::path path;
  Checkpoint checkpoint;
};
std::optional<ResumePoint> load_newest_valid_checkpoint(const std::filesystem::path& dir,
                                                        const std::function<void(const std::string&)>& warn);

}  // namespace zimt::runs
