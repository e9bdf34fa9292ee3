package chdb

// SupportedVersion is the libchdb release obsplane is built and tested
// against (scripts/install-chdb.sh pins it). Other patch releases of the same
// minor are accepted; anything else is refused at start-up.
const SupportedVersion = "26.5"
