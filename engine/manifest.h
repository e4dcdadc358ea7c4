// The manifest as a whole: CURRENT, which names the live manifest, and the
// manifest itself, a record log (engine/log_format.h) of version edits
// (engine/version_edit.h) whose FIRST record is a full snapshot (log number,
// next file number, last sequence, shape and every live run) and whose later
// records are deltas. This file is the one place that reads a manifest back
// and the one place that switches CURRENT; DBImpl owns the live state and
// the open manifest writer.
//
// CURRENT holds exactly "MANIFEST-<number>\n". It is replaced by writing
// CURRENT.tmp, syncing it, renaming it over CURRENT and syncing the
// directory.
//
// Reading never guesses: a missing CURRENT is NotFound (the caller decides
// whether the directory is new); a CURRENT that is damaged or names a
// missing manifest, a manifest that is empty, zeroed, does not decode, does
// not start with a snapshot, or removes a run that is not live, is
// Corruption naming the file. A torn last record (a crash mid-append, before
// the sync that would have made the edit count) is the end of the manifest.
//
// Thread-safety: plain functions over a FileSystem; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "engine/options.h"
#include "engine/version_edit.h"
#include "engine/version_set.h"

namespace lsm4kv::engine {

// The state a manifest describes once all its edits are applied.
struct ManifestContents {
  uint64_t manifest_number = 0;
  VersionState state;
  size_t edits = 0;  // records read, the snapshot included
};

// Reads dir/CURRENT and the manifest it names into *out.
// NotFound when CURRENT does not exist; Corruption naming CURRENT or the
// manifest when either is damaged; other errors as the file system reports.
Status read_manifest(FileSystem* fs, const std::string& dir, ManifestContents* out);
// Reads the manifest at path alone (CURRENT is not consulted; out's
// manifest_number stays 0): the same checks, Corruption naming path.
Status read_manifest_file(FileSystem* fs, const std::string& path, ManifestContents* out);

// True when the edit carries every field of a snapshot record.
bool is_snapshot(const VersionEdit& edit);

// Points dir/CURRENT at manifest `name`. *switched tells whether the rename
// happened: a failure with *switched false left CURRENT as it was; OK with
// *switched true and *dir_synced false means CURRENT names the new manifest
// but the directory sync after the rename failed, so a power cut could still
// bring the old CURRENT back.
Status set_current(FileSystem* fs, const std::string& dir, const std::string& name,
                   bool* switched, bool* dir_synced);

}  // namespace lsm4kv::engine
