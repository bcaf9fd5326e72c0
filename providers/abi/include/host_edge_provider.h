/*
 * host_edge_provider.h: the host-edge provider ABI, version 3, for providers
 * written in C.
 *
 * The same contract as providers/abi/src/ffi.rs; docs/provider-abi.md explains
 * it. A provider is a shared library exporting host_edge_provider, which
 * returns a pointer to a static descriptor and does nothing else.
 */
#ifndef HOST_EDGE_PROVIDER_H
#define HOST_EDGE_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Raised on any change to the types or rules in this header. The host still
 * loads providers built for HOST_EDGE_OLDEST_ABI_VERSION: version 3 only
 * appended dispatch_async to he_host_services. */
#define HOST_EDGE_ABI_VERSION 3u
#define HOST_EDGE_OLDEST_ABI_VERSION 2u

/* Status codes. 0 is success (out holds the reply); every other code is an
 * error kind, and out holds a UTF-8 message. */
#define HOST_EDGE_STATUS_OK 0
#define HOST_EDGE_FAILED 1       /* any other failure */
#define HOST_EDGE_DENIED 2       /* refused by the claims or a grant */
#define HOST_EDGE_NOT_LINKED 3   /* no link serves it, or the actor is not bound */
#define HOST_EDGE_TRAPPED 4      /* the actor trapped */
#define HOST_EDGE_OUT_OF_FUEL 5  /* the actor used up its fuel */
#define HOST_EDGE_TIMED_OUT 6    /* no answer in time */
#define HOST_EDGE_UNAVAILABLE 7  /* the backend (or the actor) is not reachable now */
#define HOST_EDGE_BAD_REQUEST 8  /* the request is malformed */

/* Log levels for he_host_services.log. */
#define HOST_EDGE_LOG_ERROR 1u
#define HOST_EDGE_LOG_WARN 2u
#define HOST_EDGE_LOG_INFO 3u
#define HOST_EDGE_LOG_DEBUG 4u
#define HOST_EDGE_LOG_TRACE 5u

/* An output slot: the callee stores bytes it allocated; the caller gives them
 * back through the callee's free_buffer. ptr may be NULL when len is 0. */
typedef struct he_buffer {
    uint8_t *ptr;
    size_t len;
} he_buffer;

/* Receives the outcome of dispatch_async: the waiter the provider passed, a
 * status as dispatch returns one, and the reply (status 0) or error text. The
 * bytes are lent until it returns: copy them. Called exactly once per
 * dispatch_async, from whichever thread finishes the call; keep it short. */
typedef void (*he_reply_fn)(void *waiter, int32_t status, const uint8_t *bytes, size_t len);

/* What the host offers a provider instance. Valid until stop returns; copy
 * it. Every function is callable from any thread. */
typedef struct he_host_services {
    const void *context;
    /* Calls an actor bound to this provider. Called from inside handle_call
     * for that same actor, it runs on the very instance waiting for the
     * provider (see "Re-entrancy" in docs/provider-abi.md). */
    int32_t (*dispatch)(const void *context, const char *actor, const char *operation,
                        const uint8_t *payload, size_t payload_len, he_buffer *out);
    void (*free_buffer)(const void *context, uint8_t *ptr, size_t len);
    /* A line into the host's log, under this provider's name. */
    void (*log)(const void *context, uint32_t level, const uint8_t *message, size_t message_len);
    /* This instance's own state directory: absolute, exists, private. */
    const char *state_dir;
    /* (Version 3.) Queues a call to an actor bound to this provider and
     * returns at once; the outcome goes to on_reply(waiter, ...) exactly once,
     * from the actor's thread, or from this one when the call cannot be queued
     * (possibly before dispatch_async returns). No provider thread waits, and
     * the host sets no timeout: the provider stops waiting when it wants to,
     * and its on_reply must still accept the late answer, even after stop.
     * From inside handle_call for that same actor it runs nested, as
     * dispatch does, and answers before it returns. */
    void (*dispatch_async)(const void *context, const char *actor, const char *operation,
                           const uint8_t *payload, size_t payload_len, he_reply_fn on_reply, void *waiter);
} he_host_services;

/* What host_edge_provider returns: static data. abi_version is always first:
 * the host reads it before anything else. Every function but stop may be
 * called from several threads at once. */
typedef struct he_provider_descriptor {
    uint32_t abi_version;      /* HOST_EDGE_ABI_VERSION (or down to HOST_EDGE_OLDEST_ABI_VERSION) */
    const char *capability_id; /* e.g. "wascc:keyvalue" */
    const char *name;          /* e.g. "SQLite key-value store" */
    /* The settings it accepts, as a JSON array, or NULL for none:
     * [{"name":"PORT","scope":"link","type":"integer","of":{"min":1,"max":65535},
     *   "default":"8080","doc":"..."}]; types: text, integer, boolean, choice.
     * A provider that enforces grants declares the link setting
     * {"name":"__host_edge_grant","scope":"link","type":"text"}; the host
     * links an actor with a grant only to a provider that does. */
    const char *settings;
    /* Makes an instance. settings: msgpack map of string to string. */
    int32_t (*start)(const he_host_services *host, const uint8_t *settings, size_t settings_len,
                     void **instance, he_buffer *error);
    /* config: msgpack CapabilityConfiguration {module, values}. A second bind
     * for a bound actor updates its binding. */
    int32_t (*bind_actor)(void *instance, const uint8_t *config, size_t config_len, he_buffer *out);
    int32_t (*remove_actor)(void *instance, const uint8_t *config, size_t config_len, he_buffer *out);
    /* actor: the caller's module key; payload and reply: msgpack */
    int32_t (*handle_call)(void *instance, const char *actor, const char *operation,
                           const uint8_t *payload, size_t payload_len, he_buffer *out);
    int32_t (*health)(void *instance, he_buffer *out);
    void (*free_buffer)(uint8_t *ptr, size_t len);
    /* Stops the instance and frees it. */
    void (*stop)(void *instance);
} he_provider_descriptor;

/* The entry point. */
const he_provider_descriptor *host_edge_provider(void);

#ifdef __cplusplus
}
#endif

#endif /* HOST_EDGE_PROVIDER_H */
