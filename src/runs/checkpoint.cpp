#include "zimt/runs/checkpoint.hpp"

#include "zimt/data/atomic_file.hpp"
#include "zimt/data/checksum.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace zimt::runs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kMagic[8] = {'Z', 'I', 'M', 'T', 'C', 'K', 'P', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 24;

template <class T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // x86-64 is little-endian, as the format
  out.append(bytes, sizeof(T));
}

// Reads fields from a verified payload; every read is bounds-checked.
class Reader {
 public:
  Reader(const std::string& bytes, size_t pos, std::string what) : bytes_(bytes), pos_(pos), what_(std::move(what)) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string bytes(size_t n) {
    need(n);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  bool at_end() const { return pos_ == bytes_.size(); }
  [[noreturn]] void fail(const std::string& message) const { throw std::runtime_error(what_ + ": " + message); }

 private:
  void need(size_t n) const {
    if (bytes_.size() - pos_ < n) fail("truncated checkpoint (field at byte " + std::to_string(pos_) + ")");
  }
  const std::string& bytes_;
  size_t pos_;
  std::string what_;
};

json state_to_json(const TrainState& s) {
  return {{"step", s.step},
          {"epoch", s.epoch},
          {"epoch_position", s.epoch_position},
          {"seed", s.seed},
          {"metrics_lines", s.metrics_lines},
          {"loss_sum", s.loss_sum},
          {"loss_count", s.loss_count},
          {"best_test_acc", s.best_test_acc},
          {"elapsed_s", s.elapsed_s},
          {"optimizer_totals", s.optimizer_totals}};
}

TrainState state_from_json(const json& j) {
  TrainState s;
  s.step = j.at("step").get<uint64_t>();
  s.epoch = j.at("epoch").get<uint64_t>();
  s.epoch_position = j.at("epoch_position").get<uint64_t>();
  s.seed = j.at("seed").get<uint64_t>();
  s.metrics_lines = j.at("metrics_lines").get<uint64_t>();
  s.loss_sum = j.at("loss_sum").get<int64_t>();
  s.loss_count = j.at("loss_count").get<uint64_t>();
  s.best_test_acc = j.at("best_test_acc").get<double>();
  s.elapsed_s = j.at("elapsed_s").get<double>();
  s.optimizer_totals = j.at("optimizer_totals");
  return s;
}

json data_to_json(const RunData& d) {
  const auto one = [](const DataIdentity& i) {
    return json{{"samples", i.samples}, {"payload_crc32", i.payload_crc32}};
  };
  return {{"train", one(d.train)}, {"test", one(d.test)}};
}

RunData data_from_json(const json& j) {
  const auto one = [](const json& i) {
    return DataIdentity{i.at("samples").get<uint64_t>(), i.at("payload_crc32").get<uint32_t>()};
  };
  return {one(j.at("train")), one(j.at("test"))};
}

}  // namespace

std::string encode_checkpoint(const Checkpoint& ckpt) {
  std::string payload;
  json meta_json{{"state", state_to_json(ckpt.state)}, {"config", ckpt.config}};
  if (ckpt.data) meta_json["data"] = data_to_json(*ckpt.data);
  const std::string meta = meta_json.dump();
  put<uint32_t>(payload, static_cast<uint32_t>(meta.size()));
  payload += meta;
  const ParamSet& p = ckpt.params;
  put<uint8_t>(payload, static_cast<uint8_t>(p.storage));
  put<uint32_t>(payload, static_cast<uint32_t>(p.tensors.size()));
  for (const auto& t : p.tensors) {
    put<uint16_t>(payload, static_cast<uint16_t>(t.name.size()));
    payload += t.name;
    put<uint8_t>(payload, static_cast<uint8_t>(t.kind));
    put<uint8_t>(payload, static_cast<uint8_t>(t.shape.size()));
    for (int64_t s : t.shape) put<int64_t>(payload, s);
    put<int32_t>(payload, t.w_exp);
    put<int32_t>(payload, t.g_exp);
    put<uint64_t>(payload, t.numel);
  }
  const bool narrow = p.storage == WeightStorage::int8;
  for (int16_t w : p.w) {
    if (narrow)
      put<int8_t>(payload, static_cast<int8_t>(w));
    else
      put<int16_t>(payload, w);
  }
  std::string out(kMagic, sizeof(kMagic));
  put<uint32_t>(out, kVersion);
  put<uint32_t>(out, data::crc32({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}));
  put<uint64_t>(out, payload.size());
  return out + payload;
}

Checkpoint decode_checkpoint(const std::string& bytes, const std::string& what) {
  Reader head(bytes, 0, what);
  if (bytes.size() < kHeaderSize) head.fail("truncated checkpoint (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) head.fail("not a zimt checkpoint (bad magic)");
  head.bytes(sizeof(kMagic));
  const auto version = head.get<uint32_t>();
  if (version != kVersion) head.fail("checkpoint format version " + std::to_string(version) + ", expected 1");
  const auto crc = head.get<uint32_t>();
  const auto size = head.get<uint64_t>();
  if (size != bytes.size() - kHeaderSize)
    head.fail("truncated or padded checkpoint: header says " + std::to_string(size) + " payload bytes, file has " +
              std::to_string(bytes.size() - kHeaderSize));
  const uint32_t actual =
      data::crc32({reinterpret_cast<const uint8_t*>(bytes.data()) + kHeaderSize, bytes.size() - kHeaderSize});
  if (actual != crc) head.fail("checksum mismatch: the checkpoint is corrupt");

  Reader in(bytes, kHeaderSize, what);
  Checkpoint ckpt;
  const auto meta_size = in.get<uint32_t>();
  try {
    const json meta = json::parse(in.bytes(meta_size));
    ckpt.state = state_from_json(meta.at("state"));
    ckpt.config = meta.at("config");
    if (meta.contains("data")) ckpt.data = data_from_json(meta.at("data"));
  } catch (const json::exception& e) {
    in.fail(std::string("bad metadata: ") + e.what());
  }
  const auto storage = in.get<uint8_t>();
  if (storage != 8 && storage != 16) in.fail("bad weight storage " + std::to_string(storage));
  ckpt.params.storage = static_cast<WeightStorage>(storage);
  const auto count = in.get<uint32_t>();
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = in.bytes(in.get<uint16_t>());
    const auto kind = in.get<uint8_t>();
    if (kind > static_cast<uint8_t>(ParamKind::norm_scale)) in.fail("tensor '" + name + "': bad kind");
    const auto rank = in.get<uint8_t>();
    if (rank > 8) in.fail("tensor '" + name + "': bad rank " + std::to_string(rank));
    std::vector<int64_t> shape(rank);
    for (auto& s : shape) s = in.get<int64_t>();
    const auto w_exp = in.get<int32_t>();
    const auto g_exp = in.get<int32_t>();
    const auto numel = in.get<uint64_t>();
    uint64_t product = 1;
    for (int64_t s : shape) {
      if (s <= 0 || s > (int64_t{1} << 32)) in.fail("tensor '" + name + "': bad shape");
      product *= static_cast<uint64_t>(s);
      if (product > bytes.size()) in.fail("tensor '" + name + "': larger than the file");
    }
    if (product != numel) in.fail("tensor '" + name + "': shape and size disagree");
    const size_t t = ckpt.params.add(std::move(name), std::move(shape), static_cast<ParamKind>(kind), w_exp);
    ckpt.params.tensors[t].g_exp = g_exp;
  }
  const int32_t limit = weight_limit(ckpt.params.storage);
  for (auto& w : ckpt.params.w) {
    w = ckpt.params.storage == WeightStorage::int8 ? in.get<int8_t>() : in.get<int16_t>();
    if (w > limit || w < -limit) in.fail("weight " + std::to_string(w) + " outside the storage policy");
  }
  if (!in.at_end()) in.fail("trailing bytes after the weights");
  return ckpt;
}

void save_checkpoint(const fs::path& path, const Checkpoint& ckpt) {
  fs::create_directories(path.parent_path());
  data::write_file_atomic(path.string(), encode_checkpoint(ckpt), data::Overwrite::replace);
}

Checkpoint load_checkpoint(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open checkpoint");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return decode_checkpoint(buffer.str(), path.string());
}

fs::path checkpoint_path(const fs::path& dir, uint64_t step) {
  char name[40];
  std::snprintf(name, sizeof(name), "step-%010llu.zck", static_cast<unsigned long long>(step));
  return dir / name;
}

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> found;
  if (!fs::is_directory(dir)) return found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("step-") && name.ends_with(".zck")) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());  // zero-padded step numbers sort by step
  return found;
}

void prune_checkpoints(const fs::path& dir, size_t keep) {
  auto all = list_checkpoints(dir);
  for (size_t i = 0; i + keep < all.size(); ++i) fs::remove(all[i]);
}

std::optional<ResumePoint> load_newest_valid_checkpoint(const fs::path& dir,
                                                        const std::function<void(const std::string&)>& warn) {
  const auto all = list_checkpoints(dir);
  std::vector<std::pair<fs::path, std::string>> bad;  // newer than the first valid one
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::optional<ResumePoint> found;
    try {
      found = ResumePoint{*it, load_checkpoint(*it)};
    } catch (const std::runtime_error& e) {
      bad.emplace_back(*it, e.what());
      continue;
    }
    for (const auto& [path, problem] : bad) {
      fs::path aside = path;
      aside += ".bad";
      fs::rename(path, aside);
      warn(problem + "; set aside as " + aside.filename().string() + ", resuming from " +
           found->path.filename().string());
    }
    return found;
  }
  if (bad.empty()) return std::nullopt;
  std::string message = dir.string() + ": no valid checkpoint to resume from:";
  for (const auto& [path, problem] : bad) message += "\n  " + problem;
  throw std::runtime_error(message + "\nstart the run again with --overwrite");
}

}  // namespace zimt::runs
