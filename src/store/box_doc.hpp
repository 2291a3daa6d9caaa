#pragma once
// A box record as the JSON document both store backends keep beside its key columns (seed 004
// record 63): one encoding, so SQLite and PostgreSQL cannot disagree about what a record holds.
#include <string>

#include "store/records.hpp"

namespace mobix {

std::string box_to_doc(const BoxRecord& r);
/// Fills `r` from `doc`; the key columns (cb_id, serial, cb_name, state, version) come from the row.
void box_from_doc(const std::string& doc, BoxRecord& r);
std::string billing_to_doc(const BoxBilling& b);
BoxBilling billing_from_doc(const std::string& cb_id, const std::string& doc);

}  // namespace mobix
