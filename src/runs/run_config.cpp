#include "zimt/runs/run_config.hpp"

#include "zimt/runs/config.hpp"
#include "zimt/runs/config_enums.hpp"
#include "zimt/runs/config_error.hpp"
#include "zimt/runs/model_spec.hpp"

#include <algorithm>
#include <cmath>

namespace zimt::runs {

using nlohmann::json;
using json_pointer = json::json_pointer;

optim::q32 to_q32(double x) {
  // nearbyint under the default rounding mode (to nearest, ties to even).
  return static_cast<optim::q32>(std::nearbyint(std::ldexp(x, 32)));
}

namespace {

// The typed value of a validated fixed-value option (config_enums.hpp).
template <class E, size_t N>
E typed(const EnumValue<E> (&table)[N], const json& j) {
  return *enum_value(table, j.get<std::string>());
}

optim::Schedule schedule_from(const json& s) {
  optim::Schedule out;
  out.kind = typed(kScheduleKinds, s.at("kind"));
  out.every = s.at("every").get<int64_t>();
  out.gamma = to_q32(s.at("factor").get<double>());
  out.final = to_q32(s.at("final").get<double>());
  return out;
}

}  // namespace

RunConfig to_run_config(const json& r, const std::string& source) {
  ConfigErrors errors;
  validate_config(r, errors);
  if (!errors.empty()) throw ConfigInvalid(source, errors);

  RunConfig c;
  c.model = parse_model_spec(r.at("model"), "/model", errors);
  c.train_path = r.at(json_pointer("/data/train"));
  c.test_path = r.at(json_pointer("/data/test"));
  c.norm_mean = to_q32(r.at(json_pointer("/data/normalize/mean")).get<double>());
  c.norm_std = to_q32(r.at(json_pointer("/data/normalize/std")).get<double>());
  c.shuffle = r.at(json_pointer("/data/shuffle"));

  const json& o = r.at("optimizer");
  c.optimizer.type = typed(kOptimizerTypes, o.at("type"));
  c.init = typed(kInitKinds, o.at("init"));
  auto& zim = c.optimizer.zim;
  zim.rule = typed(kZimRules, o.at("rule"));
  zim.scope = typed(kScopes, o.at("scope"));
  if (o.at("n").is_object()) {
    zim.n.is_fraction = true;
    zim.n.fraction = to_q32(o.at("n").at("fraction").get<double>());
  } else {
    zim.n.is_fraction = false;
    zim.n.absolute = o.at("n").get<int64_t>();
  }
  zim.c = to_q32(o.at("c").get<double>());
  zim.alpha = to_q32(o.at("alpha").get<double>());
  const json& schedule = o.at("schedule");
  zim.schedule = schedule_from(schedule);
  zim.schedule_target = typed(kScheduleParams, schedule.at("param")) == ScheduleParam::alpha
                            ? optim::ScheduleTarget::alpha
                            : optim::ScheduleTarget::n;
  c.optimizer.int_sgd.lr = to_q32(o.at("lr").get<double>());
  if (c.optimizer.type == optim::OptimizerType::int_sgd) c.optimizer.int_sgd.schedule = schedule_from(schedule);

  const json& t = r.at("train");
  c.epochs = t.at("epochs");
  c.max_steps = t.at("max_steps");
  c.batch_size = t.at("batch_size");
  c.seed = t.at("seed");
  c.threads = t.at("threads");
  c.eval_every = t.at("eval_every");
  c.eval_samples = t.at("eval_samples");
  c.eval_batch = t.at("eval_batch");
  c.log_every = t.at("log_every");
  c.storage = typed(kWeightStorages, t.at("weight_storage"));

  const json& out = r.at("output");
  c.output_dir = out.at("dir");
  c.checkpoint_every = out.at("checkpoint_every");
  c.keep_checkpoints = out.at("keep_checkpoints");
  return c;
}

uint64_t run_length(const RunConfig& c, uint64_t train_size) {
  const uint64_t steps_per_epoch = (train_size + c.batch_size - 1) / c.batch_size;  // the last batch may be partial
  const uint64_t epochs_steps = c.epochs * steps_per_epoch;
  return c.max_steps > 0 && (c.epochs == 0 || c.max_steps < epochs_steps) ? c.max_steps : epochs_steps;
}

void set_run_length(RunConfig& c, uint64_t total_steps) {
  const auto length = static_cast<int64_t>(std::max<uint64_t>(total_steps, 1));
  c.optimizer.zim.schedule.total_steps = length;
  if (c.optimizer.type == optim::OptimizerType::int_sgd) c.optimizer.int_sgd.schedule.total_steps = length;
}

}  // namespace zimt::runs
