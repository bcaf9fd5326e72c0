/*
 * host_edge_provider.h: the host-edge provider ABI, for providers written in C.
 *
 * The same contract as providers/sdk/src/abi.rs; docs/provider-abi.md explains
 * it. A provider is a shared library exporting __capability_provider_create.
 */
#ifndef HOST_EDGE_PROVIDER_H
#define HOST_EDGE_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Raised on any change to the types or rules in this header. */
#define HOST_EDGE_ABI_VERSION 1u

#define HOST_EDGE_STATUS_OK 0    /* out holds the reply */
#define HOST_EDGE_STATUS_ERROR 1 /* out holds a UTF-8 error message */

/* An output slot: the callee stores bytes it allocated; the caller gives them
 * back through the callee's free_buffer. ptr may be NULL when len is 0. */
typedef struct he_buffer {
    uint8_t *ptr;
    size_t len;
} he_buffer;

/* The host's dispatcher: calls an actor bound to this provider. Valid until
 * stop returns; copy it. Callable from any thread. */
typedef struct he_dispatcher {
    const void *context;
    int32_t (*dispatch)(const void *context, const char *actor, const char *operation,
                        const uint8_t *payload, size_t payload_len, he_buffer *out);
    void (*free_buffer)(const void *context, uint8_t *ptr, size_t len);
} he_dispatcher;

/* What the provider returns from __capability_provider_create. abi_version is
 * always first: the host reads it before anything else. Every function but
 * stop may be called from several threads at once. */
typedef struct he_provider_descriptor {
    uint32_t abi_version;      /* HOST_EDGE_ABI_VERSION */
    const char *capability_id; /* e.g. "wascc:keyvalue" */
    const char *name;          /* e.g. "SQLite key-value store" */
    void *instance;            /* passed back as the first argument below */
    int32_t (*set_dispatcher)(void *instance, const he_dispatcher *dispatcher);
    /* config: msgpack CapabilityConfiguration {module, values} */
    int32_t (*bind_actor)(void *instance, const uint8_t *config, size_t config_len, he_buffer *out);
    int32_t (*remove_actor)(void *instance, const uint8_t *config, size_t config_len, he_buffer *out);
    /* actor: the caller's module key; payload and reply: msgpack */
    int32_t (*handle_call)(void *instance, const char *actor, const char *operation,
                           const uint8_t *payload, size_t payload_len, he_buffer *out);
    int32_t (*health)(void *instance, he_buffer *out);
    void (*free_buffer)(void *instance, uint8_t *ptr, size_t len);
    /* Stops the provider; frees instance and this descriptor. */
    void (*stop)(void *instance);
} he_provider_descriptor;

/* The entry point; NULL if the provider could not start. */
he_provider_descriptor *__capability_provider_create(void);

#ifdef __cplusplus
}
#endif

#endif /* HOST_EDGE_PROVIDER_H */
