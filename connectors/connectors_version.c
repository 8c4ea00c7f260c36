/* Placeholder so the library is never empty; replaced by the connector core. */
const char *connectors_version(void);
const char *connectors_version(void) { return "0"; }
