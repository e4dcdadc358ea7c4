// Status -> Python exception. Every error of the store reaches Python as an
// exception of the class matching its Status code, carrying the Status
// message: lsm4kv.Error (a RuntimeError) and its subclasses
//   NotFoundError (also KeyError), InvalidArgumentError (also ValueError),
//   CorruptionError, StorageIOError (also OSError), NoSpaceError (also
//   OSError), NotSupportedError, BusyError.
// REQUIRES: the GIL is held when raising.
#pragma once

#include <pybind11/pybind11.h>

#include "base/status.h"

namespace lsm4kv::python {

void register_errors(pybind11::module_& m);

// Throws the exception for a non-OK status; returns on OK.
void check(const Status& s);

}  // namespace lsm4kv::python
