#include "zimt/runs/version.hpp"

namespace zimt::runs {

const char* version() { return "0.1.0"; }

}  // namespace zimt::runs
