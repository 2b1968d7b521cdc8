// The runtime's on/off environment switches (AIT_PDL, AIT_WEIGHT_PREFETCH): on unless the
// variable holds an off word, in any case. model.py's SWITCH_OFF is the same list (its tests
// read this one) and refuses any value outside SWITCH_VALUES before a model is created, where
// the runtime reads them once.
#pragma once
#include <cstdlib>
#include <initializer_list>
#include <strings.h>  // strcasecmp

inline bool ait_switch_on(const char* var) {
  const char* v = std::getenv(var);
  for (const char* off : {"0", "false", "no", "off"})
    if (v && strcasecmp(v, off) == 0) return false;
  return true;
}
