#pragma once
// CSV datasets: one sample per line, "label,p0,p1,...,pK" with K+1 = C*H*W
// pixels in (C,H,W) order, all integers 0..255. An optional first header line
// is recognised by a non-numeric first field. Blank lines are skipped, CRLF
// line ends accepted.
#include "zimt/data/samples.hpp"

#include <string>

namespace zimt::data::csv {

// Errors name the file and line: wrong field count, non-numeric or
// out-of-range values, no samples.
Samples read(const std::string& path, Shape shape);

}  // namespace zimt::data::csv
