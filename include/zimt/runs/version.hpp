#pragma once

namespace zimt::runs {

// The zimt release, as printed by `zimt --version` and stored in run directories.
const char* version();

}  // namespace zimt::runs
