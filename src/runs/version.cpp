#include "zimt/io/version.hpp"

namespace zimt::io {

const char* version() { return "0.1.0"; }

}  // namespace zimt::io
