// GitMirror on libgit2.
//
// Implementation notes:
// - libgit2 is initialised per mirror (git_libgit2_init is reference counted), so no global
//   set-up leaks into users of the library.
// - libgit2's error text can quote the remote URL; every message passes through RedactUrl.
// - The credential callback gives up after one attempt: libgit2 calls it again on a rejected
//   credential, which would loop forever.
#include "edgefarm/coordinator/git2_repo.h"

#include <git2.h>

#include <algorithm>
#include <set>

namespace edgefarm::coordinator {
namespace {

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p) Free(p);
  }
};
using RepoPtr = Owned<git_repository, git_repository_free>;
using RemotePtr = Owned<git_remote, git_remote_free>;
using CommitPtr = Owned<git_commit, git_commit_free>;
using TreePtr = Owned<git_tree, git_tree_free>;
using EntryPtr = Owned<git_tree_entry, git_tree_entry_free>;
using BlobPtr = Owned<git_blob, git_blob_free>;
using DiffPtr = Owned<git_diff, git_diff_free>;
using IterPtr = Owned<git_branch_iterator, git_branch_iterator_free>;
using RefPtr = Owned<git_reference, git_reference_free>;

std::string Redact(std::string text) {
  // Remove "scheme://user:pass@" credentials anywhere in a message.
  size_t at = 0;
  while ((at = text.find("://", at)) != std::string::npos) {
    size_t start = at + 3;
    size_t end = text.find_first_of("/ \t'\"", start);
    size_t sign = text.find('@', start);
    if (sign != std::string::npos && (end == std::string::npos || sign < end)) {
      text.erase(start, sign + 1 - start);
    }
    at = start;
  }
  return text;
}

Status GitError(const std::string& what, StatusCode code = StatusCode::kIoError) {
  const git_error* e = git_error_last();
  std::string message = what + ": " + (e && e->message ? e->message : "libgit2 error");
  return Status(code, Redact(message));
}

bool IsZeroSha(const std::string& sha) {
  return sha.empty() || sha.find_first_not_of('0') == std::string::npos;
}

struct CredentialState {
  const GitCredentials* credentials;
  int calls = 0;
};

int CredentialCallback(git_credential** out, const char*, const char*, unsigned int allowed,
                       void* payload) {
  auto* state = static_cast<CredentialState*>(payload);
  if (state->credentials->userpass.empty() || ++state->calls > 1 ||
      !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
    return GIT_PASSTHROUGH;
  }
  const std::string& up = state->credentials->userpass;
  size_t colon = up.find(':');
  std::string user = colon == std::string::npos ? "x-access-token" : up.substr(0, colon);
  std::string pass = colon == std::string::npos ? up : up.substr(colon + 1);
  return git_credential_userpass_plaintext_new(out, user.c_str(), pass.c_str());
}

Result<git_oid> ParseOid(const std::string& sha) {
  git_oid oid;
  if (!IsCommitSha(sha) || git_oid_fromstr(&oid, sha.c_str()) != 0) {
    return InvalidArgument("not a commit id: '" + sha.substr(0, 64) + "'");
  }
  return oid;
}

}  // namespace

std::string RedactUrl(const std::string& url) {
  return Redact(url);
}

bool IsCommitSha(const std::string& text) {
  return text.size() == 40 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

struct GitMirror::Impl {
  git_repository* repo = nullptr;
  ~Impl() {
    git_repository_free(repo);
    git_libgit2_shutdown();
  }

  Result<git_commit*> LookupCommit(const std::string& sha) {
    EF_ASSIGN_OR_RETURN(git_oid oid, ParseOid(sha));
    git_commit* commit = nullptr;
    if (git_commit_lookup(&commit, repo, &oid) != 0) {
      return GitError("commit " + sha, StatusCode::kNotFound);
    }
    return commit;
  }
};

GitMirror::GitMirror(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GitMirror::~GitMirror() = default;

Result<std::unique_ptr<GitMirror>> GitMirror::Open(const std::filesystem::path& dir,
                                                   const std::string& url) {
  git_libgit2_init();
  auto impl = std::make_unique<Impl>();
  if (git_repository_open_bare(&impl->repo, dir.c_str()) != 0) {
    if (git_repository_init(&impl->repo, dir.c_str(), /*is_bare=*/1) != 0) {
      return GitError("init mirror " + dir.filename().string());
    }
  }
  RemotePtr remote;
  if (git_remote_lookup(&remote.p, impl->repo, "origin") != 0) {
    if (git_remote_create_with_fetchspec(&remote.p, impl->repo, "origin", url.c_str(),
                                         "+refs/heads/*:refs/heads/*") != 0) {
      return GitError("add remote to mirror " + dir.filename().string());
    }
  } else if (std::string(git_remote_url(remote.p)) != url &&
             git_remote_set_url(impl->repo, "origin", url.c_str()) != 0) {
    return GitError("set remote of mirror " + dir.filename().string());
  }
  return std::unique_ptr<GitMirror>(new GitMirror(std::move(impl)));
}

Status GitMirror::Fetch(const GitCredentials& credentials) {
  RemotePtr remote;
  if (git_remote_lookup(&remote.p, impl_->repo, "origin") != 0) return GitError("remote origin");
  CredentialState state{&credentials};
  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  options.callbacks.credentials = CredentialCallback;
  options.callbacks.payload = &state;
  options.prune = GIT_FETCH_PRUNE;
  char refspec[] = "+refs/heads/*:refs/heads/*";
  char* specs[] = {refspec};
  git_strarray refspecs = {specs, 1};
  if (git_remote_fetch(remote.p, &refspecs, &options, "edgefarm fetch") != 0) {
    return GitError("fetch", StatusCode::kUnavailable);
  }
  return Status::Ok();
}

Result<std::map<std::string, std::string>> GitMirror::Branches() {
  IterPtr it;
  if (git_branch_iterator_new(&it.p, impl_->repo, GIT_BRANCH_LOCAL) != 0) {
    return GitError("list branches");
  }
  std::map<std::string, std::string> out;
  git_branch_t type;
  while (true) {
    RefPtr ref;
    int rc = git_branch_next(&ref.p, &type, it.p);
    if (rc == GIT_ITEROVER) break;
    if (rc != 0) return GitError("list branches");
    const char* name = nullptr;
    const git_oid* target = git_reference_target(ref.p);
    if (git_branch_name(&name, ref.p) != 0 || target == nullptr) continue;
    out[name] = git_oid_tostr_s(target);
  }
  return out;
}

Result<CommitInfo> GitMirror::Commit(const std::string& sha) {
  EF_ASSIGN_OR_RETURN(git_commit * raw, impl_->LookupCommit(sha));
  CommitPtr commit{raw};
  CommitInfo info;
  info.sha = sha;
  const git_signature* author = git_commit_author(commit.p);
  if (author) info.author = std::string(author->name) + " <" + author->email + ">";
  const char* message = git_commit_message(commit.p);
  info.message = message ? message : "";
  for (unsigned i = 0; i < git_commit_parentcount(commit.p); ++i) {
    info.parents.push_back(git_oid_tostr_s(git_commit_parent_id(commit.p, i)));
  }
  return info;
}

Result<std::optional<std::string>> GitMirror::ReadFile(const std::string& sha,
                                                       const std::string& path,
                                                       uint64_t max_bytes) {
  EF_ASSIGN_OR_RETURN(git_commit * raw, impl_->LookupCommit(sha));
  CommitPtr commit{raw};
  TreePtr tree;
  if (git_commit_tree(&tree.p, commit.p) != 0) return GitError("tree of " + sha);
  EntryPtr entry;
  if (git_tree_entry_bypath(&entry.p, tree.p, path.c_str()) != 0 ||
      git_tree_entry_type(entry.p) != GIT_OBJECT_BLOB) {
    return std::optional<std::string>();
  }
  BlobPtr blob;
  if (git_blob_lookup(&blob.p, impl_->repo, git_tree_entry_id(entry.p)) != 0) {
    return GitError("blob " + path);
  }
  auto size = static_cast<uint64_t>(git_blob_rawsize(blob.p));
  if (size > max_bytes) {
    return ResourceExhausted(path + " is " + std::to_string(size) + " bytes, over the limit of " +
                             std::to_string(max_bytes));
  }
  const char* data = static_cast<const char*>(git_blob_rawcontent(blob.p));
  return std::optional<std::string>(std::string(data, static_cast<size_t>(size)));
}

Result<std::vector<std::string>> GitMirror::ChangedPaths(const std::string& from,
                                                         const std::string& to) {
  EF_ASSIGN_OR_RETURN(git_commit * raw_to, impl_->LookupCommit(to));
  CommitPtr to_commit{raw_to};
  TreePtr to_tree;
  TreePtr from_tree;
  if (git_commit_tree(&to_tree.p, to_commit.p) != 0) return GitError("tree of " + to);
  std::string base = from;
  if (IsZeroSha(base) && git_commit_parentcount(to_commit.p) > 0) {
    base = git_oid_tostr_s(git_commit_parent_id(to_commit.p, 0));
  }
  if (!IsZeroSha(base)) {
    auto from_commit = impl_->LookupCommit(base);
    // A force push's old tip may be gone from the remote: fall back to the first parent.
    if (!from_commit.ok() && git_commit_parentcount(to_commit.p) > 0) {
      from_commit = impl_->LookupCommit(git_oid_tostr_s(git_commit_parent_id(to_commit.p, 0)));
    }
    if (from_commit.ok()) {
      CommitPtr owned{*from_commit};
      if (git_commit_tree(&from_tree.p, owned.p) != 0) return GitError("tree of " + base);
    }
  }
  DiffPtr diff;
  if (git_diff_tree_to_tree(&diff.p, impl_->repo, from_tree.p, to_tree.p, nullptr) != 0) {
    return GitError("diff " + base + ".." + to);
  }
  std::set<std::string> paths;
  for (size_t i = 0; i < git_diff_num_deltas(diff.p); ++i) {
    const git_diff_delta* delta = git_diff_get_delta(diff.p, i);
    if (delta->old_file.path) paths.insert(delta->old_file.path);
    if (delta->new_file.path) paths.insert(delta->new_file.path);
  }
  return std::vector<std::string>(paths.begin(), paths.end());
}

}  // namespace edgefarm::coordinator
