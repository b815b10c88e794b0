// Number parsing for the edgefarm-engine subcommands' flags. The whole argument must be the
// number (no trailing text) and lie in [lo, hi]; otherwise the call returns false and leaves *out
// untouched, and the command reports the flag as a usage error.
#pragma once

namespace edgefarm::engine::tools {

// A base-10 integer.
bool ParseInt(const char* s, long lo, long hi, long* out);
// A decimal or scientific number (strtod syntax); NaN is never within the range.
bool ParseNumber(const char* s, double lo, double hi, double* out);

}  // namespace edgefarm::engine::tools
