// Loading a model in a test: the model, or nullptr after recording the load error as a test
// failure (callers ASSERT_NE(model, nullptr) before using it).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "edgefarm/engine/model.h"

namespace edgefarm::engine {

inline std::unique_ptr<LlamaModel> LoadModel(const std::filesystem::path& path) {
  auto model = LlamaModel::Load(path);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(*model) : nullptr;
}

}  // namespace edgefarm::engine
