// Parsing `.edgefarm.yml` text into a validated Pipeline.
//
// Errors name "FILE:LINE:COLUMN: what is wrong" (1-based, as editors show them); unknown keys
// get a "did you mean" suggestion; every error found is reported, one per line, in the Status
// message (code InvalidArgument). yaml-cpp exceptions never escape.
#pragma once

#include <string_view>

#include "edgefarm/common/status.h"
#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::pipelines {

Result<Pipeline> LoadPipeline(std::string_view yaml_text, std::string_view file_name);

}  // namespace edgefarm::pipelines
