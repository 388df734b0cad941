
/*
 * The GET of a JWKS URL (pdf_report_fetch.c) against a one-answer server
 * forked here: a 200 gives its body whole, another status fails with it,
 * a body over the limit fails, a closed port and a scheme other than
 * http or https fail with a reason; and the URL as a log line shows no
 * user part, query or fragment.  TLS verification is tested against a
 * real server in t/17-jwks-url.t.
 */


#include <stdlib.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <curl/curl.h>

#include "tap.h"
#include "pdf_report_fetch.h"


/* a listening socket on 127.0.0.1, its port in *port */
static int
listener(int *port)
{
    int                 fd;
    socklen_t           len;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1) {
        return -1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 4) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        close(fd);
        return -1;
    }

    *port = ntohs(sin.sin_port);

    return fd;
}


/* a child that answers one request with answer, then exits */
static pid_t
serve_once(int fd, const char *answer)
{
    int     c;
    char    buf[4096];
    pid_t   pid;
    size_t  len, n;

    pid = fork();

    if (pid != 0) {
        return pid;
    }

    c = accept(fd, NULL, NULL);

    if (c != -1) {
        (void) read(c, buf, sizeof(buf));

        for (len = strlen(answer), n = 0; n < len; ) {
            ssize_t  w = write(c, answer + n, len - n);

            if (w <= 0) {
                break;
            }

            n += (size_t) w;
        }

        close(c);
    }

    _exit(0);
}


static int
fetch(int port, size_t max, pdf_report_fetch_result_t *res)
{
    char                     url[64];
    pdf_report_fetch_conf_t  conf;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/jwks.json", port);

    memset(&conf, 0, sizeof(conf));
    conf.url = url;
    conf.max_size = max;
    conf.connect_ms = 2000;
    conf.timeout_ms = 5000;

    return pdf_report_fetch(&conf, res);
}


static void
test_server(void)
{
    int                        fd, port, rc;
    char                       answer[8192], body[4096];
    pid_t                      pid;
    pdf_report_fetch_result_t  res;

    fd = listener(&port);
    ok(fd != -1, "a listening socket");

    if (fd == -1) {
        return;
    }

    memset(body, 'k', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: "
             "%zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);

    pid = serve_once(fd, answer);
    rc = fetch(port, 65536, &res);
    waitpid(pid, NULL, 0);

    is_int(rc, 0, "a 200 is fetched");
    is_int(res.status, 200, "its status");
    is_int(res.len, strlen(body), "its whole body");
    ok(res.body != NULL && strcmp(res.body, body) == 0,
       "the same bytes, NUL-terminated");
    free(res.body);

    pid = serve_once(fd, answer);
    rc = fetch(port, 1000, &res);
    waitpid(pid, NULL, 0);

    is_int(rc, -1, "a body over the limit fails");
    is_str(res.error, "the document is larger than 1000 bytes", "said so");
    ok(res.body == NULL, "and no body is kept");

    pid = serve_once(fd, "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n"
                         "Connection: close\r\n\r\nbusy");
    rc = fetch(port, 65536, &res);
    waitpid(pid, NULL, 0);

    is_int(rc, -1, "a 503 fails");
    is_int(res.status, 503, "with its status");
    is_str(res.error, "HTTP status 503, not 200", "said so");

    pid = serve_once(fd, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1"
                         ":1/\r\nContent-Length: 0\r\nConnection: close"
                         "\r\n\r\n");
    rc = fetch(port, 65536, &res);
    waitpid(pid, NULL, 0);

    is_int(rc, -1, "a redirect is not followed");
    is_str(res.error, "HTTP status 302, not 200", "it is a failure");

    close(fd);

    /* the port is free again: nobody listens */
    rc = fetch(port, 65536, &res);
    is_int(rc, -1, "a closed port fails");
    ok(strstr(res.error, "Failed to connect") != NULL
       || strstr(res.error, "Couldn't connect") != NULL,
       "with curl's reason: %s", res.error);
}


static void
test_scheme(void)
{
    pdf_report_fetch_result_t  res;
    pdf_report_fetch_conf_t    conf;

    memset(&conf, 0, sizeof(conf));
    conf.url = "file:///etc/hostname";
    conf.max_size = 65536;
    conf.connect_ms = 2000;
    conf.timeout_ms = 5000;

    is_int(pdf_report_fetch(&conf, &res), -1, "file:// is refused");
    ok(res.body == NULL && res.error[0] != '\0', "with a reason: %s",
       res.error);
}


static void
test_log_url(void)
{
    char  buf[256];

    is_str(pdf_report_fetch_log_url(buf, sizeof(buf),
                                    "https://idp.example/.well-known/jwks"),
           "https://idp.example/.well-known/jwks", "a plain URL as it is");
    is_str(pdf_report_fetch_log_url(buf, sizeof(buf),
                                    "https://u:secret@idp.example:8443/k"),
           "https://idp.example:8443/k", "no user part");
    is_str(pdf_report_fetch_log_url(buf, sizeof(buf),
                                    "https://idp.example/k?token=secret#x"),
           "https://idp.example/k", "no query or fragment");
    is_str(pdf_report_fetch_log_url(buf, sizeof(buf),
                                    "http://idp.example?token=secret"),
           "http://idp.example", "no query without a path");
    is_str(pdf_report_fetch_log_url(buf, sizeof(buf),
                                    "https://a@b@idp.example/k"),
           "https://idp.example/k", "the last @ ends the user part");
    is_str(pdf_report_fetch_log_url(buf, sizeof(buf),
                                    "https://idp.example/a\"b"),
           "https://idp.example/a\\x22b", "escaped for one log line");
    is_str(pdf_report_fetch_log_url(buf, sizeof(buf), "idp.example"),
           "(not a URL)", "not a URL");
}


int
main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        printf("Bail out! curl_global_init() failed\n");
        return 1;
    }

    /* a child's closed socket must not end us */
    signal(SIGPIPE, SIG_IGN);

    test_server();
    test_scheme();
    test_log_url();

    curl_global_cleanup();

    return done_testing();
}
