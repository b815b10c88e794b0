// llama SPM tokenizer, as llama.cpp's llm_tokenizer_spm.
//
// Encode: prefix a space (tokenizer.ggml.add_space_prefix, default true), replace every space by
// U+2581, split into UTF-8 characters, then repeatedly merge the adjacent pair whose concatenation
// is a vocabulary token of highest score (ties: leftmost), re-offering the new neighbours after
// each merge; stale queue entries are recognised by their length. Symbols that are not tokens
// (characters missing from the vocabulary) become their <0xXX> byte tokens, or <unk> if even
// those are absent. Merged symbols are always tokens, so llama.cpp's re-segmentation map is never
// consulted and is not kept. Special-token text in the input is not parsed (llama.cpp's
// parse_special = false); duplicate token texts resolve to the last id, as in llama.cpp.
#include "edgefarm/engine/tokenizer.h"

#include <queue>
#include <unordered_map>

#include "edgefarm/engine/gguf.h"

namespace edgefarm::engine {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

enum TokenKind : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

size_t Utf8Length(char first) {
  static constexpr size_t kByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kByHighNibble[static_cast<uint8_t>(first) >> 4];
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xAB>" -> '\xAB'.
std::optional<char> ParseByteToken(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
  const int hi = HexDigit(t[3]), lo = HexDigit(t[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<char>(hi * 16 + lo);
}

struct Symbol {
  size_t offset;
  size_t n;
  int prev;
  int next;
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class SpmTokenizer final : public Tokenizer {
 public:
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;
  std::string TokenToPiece(int32_t id) const override;
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int32_t bos() const override { return bos_; }
  int32_t eos() const override { return eos_; }
  int32_t vocab_size() const override { return static_cast<int32_t>(tokens_.size()); }

  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<int32_t> kinds_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t bos_ = 1, eos_ = 2, unk_ = 0;
  bool add_space_prefix_ = true;
  bool add_eos_ = false;

 private:
  int32_t Find(std::string_view text) const {
    auto it = ids_.find(std::string(text));
    return it == ids_.end() ? -1 : it->second;
  }
  int32_t ByteToken(uint8_t byte) const;
  void Segment(const std::string& text, std::vector<int32_t>* out) const;
};

int32_t SpmTokenizer::ByteToken(uint8_t byte) const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char name[6] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  int32_t id = Find(std::string_view(name, 6));
  if (id < 0) id = Find(std::string(1, static_cast<char>(byte)));
  return id < 0 ? unk_ : id;
}

void SpmTokenizer::Segment(const std::string& text, std::vector<int32_t>* out) const {
  std::vector<Symbol> symbols;
  for (size_t offs = 0; offs < text.size();) {
    const size_t n = std::min(Utf8Length(text[offs]), text.size() - offs);
    const int index = static_cast<int>(symbols.size());
    offs += n;
    symbols.push_back({offs - n, n, index - 1, offs == text.size() ? -1 : index + 1});
  }
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto offer = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t size = symbols[left].n + symbols[right].n;
    const int32_t id = Find(std::string_view(text).substr(symbols[left].offset, size));
    if (id < 0) return;
    queue.push({left, right, scores_[static_cast<size_t>(id)], size});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) offer(i - 1, i);
  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    offer(left.prev, b.left);
    offer(b.left, left.next);
  }
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const int32_t id = Find(std::string_view(text).substr(s.offset, s.n));
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    for (size_t j = 0; j < s.n; ++j)
      out->push_back(ByteToken(static_cast<uint8_t>(text[s.offset + j])));
  }
}

std::vector<int32_t> SpmTokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos) out.push_back(bos_);
  if (!text.empty()) {
    std::string escaped;
    escaped.reserve(text.size() * 3 + 3);
    if (add_space_prefix_) escaped += kSpaceMark;
    for (char c : text) {
      if (c == ' ') {
        escaped += kSpaceMark;
      } else {
        escaped += c;
      }
    }
    Segment(escaped, &out);
  }
  if (add_eos_) out.push_back(eos_);
  return out;
}

std::string SpmTokenizer::TokenToPiece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  const std::string& t = tokens_[static_cast<size_t>(id)];
  switch (kinds_[static_cast<size_t>(id)]) {
    case kByte:
      if (std::optional<char> byte = ParseByteToken(t)) return std::string(1, *byte);
      return t;
    case kControl:
    case kUnused:
      return "";
    case kUnknown:
      return " \xE2\x81\x87 ";  // llama.cpp renders <unk> as " ⁇ "
    default: {
      std::string piece;
      for (size_t i = 0; i < t.size();) {
        if (t.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
          piece += ' ';
          i += kSpaceMark.size();
        } else {
          piece += t[i++];
        }
      }
      return piece;
    }
  }
}

std::string SpmTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string text;
  for (int32_t id : ids) text += TokenToPiece(id);
  // Drop the space the encoder prefixed.
  if (add_space_prefix_ && !text.empty() && text[0] == ' ') text.erase(0, 1);
  return text;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file) {
  const std::optional<std::string> model = file.GetString("tokenizer.ggml.model");
  if (model != "llama") {
    return InvalidArgument("tokenizer: only the llama SPM tokenizer is supported (model is '" +
                           model.value_or("absent") + "')");
  }
  const GgufValue* tokens = file.Find("tokenizer.ggml.tokens");
  const GgufValue* scores = file.Find("tokenizer.ggml.scores");
  const GgufValue* types = file.Find("tokenizer.ggml.token_type");
  if (tokens == nullptr || tokens->AsArray() == nullptr ||
      tokens->AsArray()->element_type != GgufValueType::kString ||
      tokens->AsArray()->values.empty()) {
    return DataLoss("tokenizer: tokenizer.ggml.tokens is missing or not a string array");
  }
  const size_t n = tokens->AsArray()->values.size();
  auto tok = std::make_unique<SpmTokenizer>();
  tok->tokens_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    tok->tokens_.push_back(tokens->AsArray()->values[i].AsString().value_or(""));
    tok->ids_[tok->tokens_.back()] = static_cast<int32_t>(i);
  }
  tok->scores_.assign(n, 0.0f);
  tok->kinds_.assign(n, kNormal);
  if (scores != nullptr && scores->AsArray() != nullptr) {
    const auto& v = scores->AsArray()->values;
    if (v.size() != n) return DataLoss("tokenizer: scores and tokens differ in length");
    for (size_t i = 0; i < n; ++i) tok->scores_[i] = static_cast<float>(v[i].AsFloat().value_or(0));
  }
  if (types != nullptr && types->AsArray() != nullptr) {
    const auto& v = types->AsArray()->values;
    if (v.size() != n) return DataLoss("tokenizer: token types and tokens differ in length");
    for (size_t i = 0; i < n; ++i)
      tok->kinds_[i] = static_cast<int32_t>(v[i].AsInt().value_or(kNormal));
  }
  auto id_of = [&](const char* key, int32_t fallback) -> Result<int32_t> {
    const int64_t id = file.GetInt(key).value_or(fallback);
    if (id < 0 || static_cast<size_t>(id) >= n) {
      return DataLoss(std::string("tokenizer: ") + key + " " + std::to_string(id) +
                      " is out of range");
    }
    return static_cast<int32_t>(id);
  };
  EF_ASSIGN_OR_RETURN(tok->bos_, id_of("tokenizer.ggml.bos_token_id", 1));
  EF_ASSIGN_OR_RETURN(tok->eos_, id_of("tokenizer.ggml.eos_token_id", 2));
  EF_ASSIGN_OR_RETURN(tok->unk_, id_of("tokenizer.ggml.unknown_token_id", 0));
  if (const GgufValue* v = file.Find("tokenizer.ggml.add_space_prefix")) {
    tok->add_space_prefix_ = v->AsInt().value_or(1) != 0;
  }
  if (const GgufValue* v = file.Find("tokenizer.ggml.add_eos_token")) {
    tok->add_eos_ = v->AsInt().value_or(0) != 0;
  }
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace edgefarm::engine
