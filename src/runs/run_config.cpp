#include "zimt/runs/run_config.hpp"

#include "zimt/runs/config_error.hpp"
#include "zimt/runs/model_spec.hpp"

#include <cmath>

namespace zimt::runs {

using nlohmann::json;
using json_pointer = json::json_pointer;

optim::q32 to_q32(double x) {
  // nearbyint under the default rounding mode (to nearest, ties to even).
  return static_cast<optim::q32>(std::nearbyint(std::ldexp(x, 32)));
}

namespace {

optim::Schedule schedule_from(const json& s, uint64_t total_steps) {
  optim::Schedule out;
  const std::string kind = s.at("kind");
  out.kind = kind == "step"     ? optim::ScheduleKind::step
             : kind == "cosine" ? optim::ScheduleKind::cosine
                                : optim::ScheduleKind::constant;
  out.every = s.at("every").get<int64_t>();
  out.gamma = to_q32(s.at("factor").get<double>());
  out.total_steps = static_cast<int64_t>(total_steps == 0 ? 1 : total_steps);
  out.final = to_q32(s.at("final").get<double>());
  return out;
}

}  // namespace

RunConfig to_run_config(const json& r, uint64_t total_steps, const std::string& source) {
  RunConfig c;
  ConfigErrors errors;
  c.model = parse_model_spec(r.at("model"), "/model", errors);
  if (!errors.empty()) throw ConfigInvalid(source, errors);

  c.train_path = r.at(json_pointer("/data/train"));
  c.test_path = r.at(json_pointer("/data/test"));
  c.norm_mean = to_q32(r.at(json_pointer("/data/normalize/mean")).get<double>());
  c.norm_std = to_q32(r.at(json_pointer("/data/normalize/std")).get<double>());
  c.shuffle = r.at(json_pointer("/data/shuffle"));

  const json& o = r.at("optimizer");
  const std::string type = o.at("type");
  c.optimizer.type = type == "int_sgd"    ? optim::OptimizerType::int_sgd
                     : type == "sign_sgd" ? optim::OptimizerType::sign_sgd
                                          : optim::OptimizerType::zim;
  const std::string init = o.at("init");
  c.init = init == "dense"   ? optim::InitKind::dense
           : init == "float" ? optim::InitKind::float_quantized
                             : optim::InitKind::authors;
  auto& zim = c.optimizer.zim;
  zim.rule = o.at("rule") == "zero_inflated" ? optim::ZimRule::zero_inflated : optim::ZimRule::authors;
  zim.scope = o.at("scope") == "per_tensor" ? optim::Scope::per_tensor : optim::Scope::global;
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
  const std::string target = schedule.at("param");
  const bool for_sgd = c.optimizer.type == optim::OptimizerType::int_sgd;
  if (schedule.at("kind") != "constant" && (for_sgd ? target != "lr" : target == "lr")) {
    throw ConfigInvalid(source, {{"/optimizer/schedule/param", "\"" + target + "\" does not apply to optimizer \"" +
                                                                   type + "\" (zim: n or alpha; int_sgd: lr)"}});
  }
  zim.schedule = schedule_from(schedule, total_steps);
  zim.schedule_target = target == "alpha" ? optim::ScheduleTarget::alpha : optim::ScheduleTarget::n;
  c.optimizer.int_sgd.lr = to_q32(o.at("lr").get<double>());
  c.optimizer.int_sgd.schedule = for_sgd ? schedule_from(schedule, total_steps) : optim::Schedule{};

  const json& t = r.at("train");
  c.epochs = t.at("epochs");
  c.max_steps = t.at("max_steps");
  c.batch_size = t.at("batch_size");
  c.seed = t.at("seed");
  c.threads = t.at("threads");
  c.eval_every = t.at("eval_every");
  c.eval_samples = t.at("eval_samples");
  c.log_every = t.at("log_every");
  c.storage = t.at("weight_storage") == "int16" ? WeightStorage::int16 : WeightStorage::int8;

  const json& out = r.at("output");
  c.output_dir = out.at("dir");
  c.checkpoint_every = out.at("checkpoint_every");
  c.keep_checkpoints = out.at("keep_checkpoints");
  return c;
}

}  // namespace zimt::runs
