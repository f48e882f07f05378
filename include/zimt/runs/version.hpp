#pragma once

namespace zimt::io {

// The zimt release, as printed by `zimt --version` and stored in run directories.
const char* version();

}  // namespace zimt::io
