// Limits on input events, in a module of their own so that commands can use them without loading the decoder.

/** Events larger than this are rejected as `too_large` unless configured otherwise. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
