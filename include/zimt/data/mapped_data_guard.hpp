#pragma once
// A dataset is read through a memory mapping of its file (dataset.hpp). If
// the file shrinks while mapped (truncated or rewritten in place, e.g. by
// `cp` over it), reading the lost pages raises SIGBUS, which would kill the
// process with "Bus error". This guard turns that into a clear error:
//   zimt: error: a dataset file shrank while in use (truncated or rewritten
//   in place); stopped without writing anything more. Restore the file, then
//   continue with --resume.
// and exit code 1. Checkpoints are written atomically, so the newest one on
// disk is whole. Replacing a file by rename or deleting it is harmless: the
// mapping keeps the file that was opened.
namespace zimt::data {

// Installs the SIGBUS handler (once per process; later calls do nothing).
void install_mapped_data_guard();

}  // namespace zimt::data
