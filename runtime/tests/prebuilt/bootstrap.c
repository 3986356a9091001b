/* A prebuilt Lambda `bootstrap` in C for the end-to-end tests: the Runtime API over plain
 * sockets, no SDK. Each record's body is a probe command ({"do":"ok"|"fail"|"raise"|"spawn"});
 * completed messages are appended to $PROBE_LOG as `done <id> <body> - <attempt>`, and each
 * invocation as `context <request id> <deadline ms> <function arn> <name> <memory> <handler>
 * <execution env> <task root>`. */
#define _GNU_SOURCE
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char host[256], port[16];

static void append(const char *line) {
    const char *path = getenv("PROBE_LOG");
    FILE *log = path ? fopen(path, "a") : NULL;
    if (log) {
        fprintf(log, "%s\n", line);
        fclose(log);
    }
}

/* One request (Connection: close); returns the whole response, NUL-terminated. */
static char *http(const char *method, const char *path, const char *headers, const char *body) {
    struct addrinfo hints = {0}, *addr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &addr) != 0) exit(10);
    int fd = socket(addr->ai_family, addr->ai_socktype, addr->ai_protocol);
    if (fd < 0 || connect(fd, addr->ai_addr, addr->ai_addrlen) != 0) exit(11);
    freeaddrinfo(addr);
    size_t length = body ? strlen(body) : 0;
    dprintf(fd, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n",
            method, path, host, port, length, headers ? headers : "");
    if (length && write(fd, body, length) != (ssize_t)length) exit(12);
    size_t size = 0, capacity = 65536;
    char *response = malloc(capacity);
    ssize_t n;
    while ((n = read(fd, response + size, capacity - size - 1)) > 0) {
        size += (size_t)n;
        if (capacity - size < 4096) response = realloc(response, capacity *= 2);
    }
    response[size] = '\0';
    close(fd);
    return response;
}

/* The value of a response header (names arrive in lower case), copied into `out`. */
static void header(const char *response, const char *name, char *out, size_t room) {
    out[0] = '\0';
    const char *at = strcasestr(response, name);
    if (!at) return;
    at += strlen(name);
    while (*at == ' ' || *at == ':') at++;
    size_t n = strcspn(at, "\r\n");
    if (n >= room) n = room - 1;
    memcpy(out, at, n);
    out[n] = '\0';
}

/* The string value after `"key":"` in [from, to), raw (escapes kept), copied into `out`. */
static void field(const char *from, const char *to, const char *key, char *out, size_t room) {
    out[0] = '\0';
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = memmem(from, (size_t)(to - from), pattern, strlen(pattern));
    if (!at) return;
    at += strlen(pattern);
    size_t n = 0;
    while (at + n < to && !(at[n] == '"' && (n == 0 || at[n - 1] != '\\'))) n++;
    if (n >= room) n = room - 1;
    memcpy(out, at, n);
    out[n] = '\0';
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) return 2;
    const char *colon = strrchr(api, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - api), api);
    snprintf(port, sizeof port, "%s", colon + 1);
    for (;;) {
        char *event = http("GET", "/2018-06-01/runtime/invocation/next", NULL, NULL);
        char id[128], deadline[32], arn[256], line[2048], path[256];
        header(event, "lambda-runtime-aws-request-id", id, sizeof id);
        header(event, "lambda-runtime-deadline-ms", deadline, sizeof deadline);
        header(event, "lambda-runtime-invoked-function-arn", arn, sizeof arn);
        snprintf(line, sizeof line, "context %s %s %s %s %s %s %s %s", id, deadline, arn,
                 getenv("AWS_LAMBDA_FUNCTION_NAME"), getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
                 getenv("_HANDLER"), getenv("AWS_EXECUTION_ENV"), getenv("LAMBDA_TASK_ROOT"));
        append(line);
        char failures[8192] = "{\"batchItemFailures\":[";
        int failed = 0, raised = 0;
        const char *record = strstr(event, "\r\n\r\n");
        const char *end = event + strlen(event);
        while (record && (record = strstr(record, "\"messageId\":\"")) != NULL) {
            const char *next = strstr(record + 1, "\"messageId\":\"");
            const char *stop = next ? next : end;
            char message[128], body[1024], attempt[16];
            field(record, stop, "messageId", message, sizeof message);
            field(record, stop, "body", body, sizeof body);
            field(record, stop, "ApproximateReceiveCount", attempt, sizeof attempt);
            if (strstr(body, "\\\"do\\\":\\\"fail\\\"")) {
                snprintf(failures + strlen(failures), sizeof failures - strlen(failures),
                         "%s{\"itemIdentifier\":\"%s\"}", failed++ ? "," : "", message);
            } else if (strstr(body, "\\\"do\\\":\\\"raise\\\"")) {
                raised = 1;
                break;
            } else {
                if (strstr(body, "\\\"do\\\":\\\"spawn\\\"")) {
                    pid_t child = fork();
                    if (child == 0) {
                        execlp("sleep", "sleep", "600", (char *)NULL);
                        _exit(127);
                    }
                    snprintf(line, sizeof line, "spawned %d", (int)child);
                    append(line);
                    sleep(60);
                }
                snprintf(line, sizeof line, "done %s %s - %s", message, body, attempt);
                append(line);
            }
            record = stop == end ? NULL : stop;
        }
        if (raised) {
            fprintf(stderr, "[ERROR] RuntimeError: asked to raise\n");
            snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/error", id);
            free(http("POST", path, "Lambda-Runtime-Function-Error-Type: Unhandled\r\n",
                      "{\"errorMessage\":\"asked to raise\",\"errorType\":\"RuntimeError\"}"));
        } else {
            strcat(failures, "]}");
            snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", id);
            free(http("POST", path, NULL, failures));
        }
        free(event);
    }
}
