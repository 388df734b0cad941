
/*
 * pdf_report_webhook.c: the secret, the signature against the Standard
 * Webhooks specification's own example, the allow entries, the SSRF
 * guard's address classes, and one delivery to a fake receiver that
 * records the request it got.
 */


#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "tap.h"
#include "fake_listen.h"
#include "pdf_report_webhook.h"


static int
allow(pdf_report_webhook_allow_t *a, const char *text)
{
    char  err[128];

    return pdf_report_webhook_allow_parse(a, text, strlen(text), err,
                                          sizeof(err));
}


static int
addr_ok(const pdf_report_webhook_allow_t *al, size_t n, const char *host,
    const char *ip)
{
    struct sockaddr_in6         s6;
    struct sockaddr_in          s4;
    pdf_report_webhook_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.allow = al;
    conf.nallow = n;

    memset(&s4, 0, sizeof(s4));
    memset(&s6, 0, sizeof(s6));

    if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        return pdf_report_webhook_addr_ok(&conf, host,
                                          (struct sockaddr *) &s4);
    }

    if (inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1) {
        s6.sin6_family = AF_INET6;
        return pdf_report_webhook_addr_ok(&conf, host,
                                          (struct sockaddr *) &s6);
    }

    return -1;
}


static void
test_secret(void)
{
    size_t         len;
    unsigned char  key[PDF_REPORT_WEBHOOK_KEY_MAX];
    const char    *s;

    s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == 0 && len == 24,
       "secret: the specification's example, 24 bytes");

    /* 64 bytes: the most; 65: one too many */
    s = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAA==";
    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == 0 && len == 64,
       "secret: 64 bytes");
    s = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == -1,
       "secret: 65 bytes refused");

    s = "whsec_AAAAAAAAAAAAAAAAAAAAAA==";
    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == -1,
       "secret: 16 bytes refused");

    s = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == -1,
       "secret: no whsec_ prefix refused");

    s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS*";
    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == -1,
       "secret: a character outside base64 refused");

    s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS";
    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == -1,
       "secret: base64 cut short refused");
}


static void
test_sign(void)
{
    size_t         len;
    char           sig[PDF_REPORT_WEBHOOK_SIG_LEN + 1];
    unsigned char  key[PDF_REPORT_WEBHOOK_KEY_MAX];
    const char    *s, *body;

    s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    body = "{\"test\": 2432232314}";

    ok(pdf_report_webhook_secret(s, strlen(s), key, &len) == 0
       && pdf_report_webhook_sign(sig, key, len,
                                  "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                  1614265330, body, strlen(body)) == 0,
       "sign: signed");

    /* the specification's example, which its reference library gives */
    is_str(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
           "sign: the specification's signature");
}


static void
test_allow(void)
{
    pdf_report_webhook_allow_t  a[4];

    ok(allow(&a[0], "10.0.0.0/8") == 0 && a[0].family == AF_INET,
       "allow: 10.0.0.0/8");
    ok(allow(&a[1], "127.0.0.1") == 0, "allow: 127.0.0.1");
    ok(allow(&a[2], "fd00::/8") == 0 && a[2].family == AF_INET6,
       "allow: fd00::/8");
    ok(allow(&a[3], "Hooks.Example.COM") == 0 && a[3].family == 0
       && strcmp(a[3].host, "hooks.example.com") == 0,
       "allow: a host name, lower-cased");

    ok(allow(&a[0], "10.1.2.3/8") == -1, "allow: bits beyond the prefix");
    ok(allow(&a[0], "10.0.0.0/33") == -1, "allow: /33 refused");
    ok(allow(&a[0], "10.0.0.0/") == -1, "allow: an empty prefix refused");
    ok(allow(&a[0], "hooks/x") == -1, "allow: a path refused");
    ok(allow(&a[0], "") == -1, "allow: empty refused");
}


static void
test_guard(void)
{
    pdf_report_webhook_allow_t  a[3];

    ok(addr_ok(NULL, 0, "x", "93.184.216.34") == 1, "guard: public v4");
    ok(addr_ok(NULL, 0, "x", "2606:2800:220:1::1") == 1, "guard: public v6");

    ok(addr_ok(NULL, 0, "x", "127.0.0.1") == 0, "guard: loopback");
    ok(addr_ok(NULL, 0, "x", "127.255.0.9") == 0, "guard: loopback /8");
    ok(addr_ok(NULL, 0, "x", "10.9.8.7") == 0, "guard: 10/8");
    ok(addr_ok(NULL, 0, "x", "172.31.255.255") == 0, "guard: 172.16/12");
    ok(addr_ok(NULL, 0, "x", "172.32.0.1") == 1, "guard: 172.32 is public");
    ok(addr_ok(NULL, 0, "x", "192.168.1.1") == 0, "guard: 192.168/16");
    ok(addr_ok(NULL, 0, "x", "169.254.169.254") == 0,
       "guard: link-local (the metadata endpoint)");
    ok(addr_ok(NULL, 0, "x", "0.0.0.0") == 0, "guard: unspecified");
    ok(addr_ok(NULL, 0, "x", "100.64.0.1") == 0, "guard: shared 100.64/10");
    ok(addr_ok(NULL, 0, "x", "100.128.0.1") == 1, "guard: 100.128 public");
    ok(addr_ok(NULL, 0, "x", "::") == 0, "guard: :: unspecified");
    ok(addr_ok(NULL, 0, "x", "::1") == 0, "guard: ::1");
    ok(addr_ok(NULL, 0, "x", "fe80::1") == 0, "guard: fe80::/10");
    ok(addr_ok(NULL, 0, "x", "fd12::1") == 0, "guard: fc00::/7");
    ok(addr_ok(NULL, 0, "x", "::ffff:127.0.0.1") == 0,
       "guard: IPv4-mapped loopback");
    ok(addr_ok(NULL, 0, "x", "::ffff:93.184.216.34") == 1,
       "guard: IPv4-mapped public");
    ok(addr_ok(NULL, 0, "x", "64:ff9b::a00:1") == 0,
       "guard: NAT64 of 10.0.0.1");

    (void) allow(&a[0], "127.0.0.1");
    (void) allow(&a[1], "fd00::/8");
    (void) allow(&a[2], "hooks.internal");

    ok(addr_ok(a, 3, "x", "127.0.0.1") == 1, "guard: allowed 127.0.0.1");
    ok(addr_ok(a, 3, "x", "127.0.0.2") == 0, "guard: but not 127.0.0.2");
    ok(addr_ok(a, 3, "x", "fd00::5") == 1, "guard: allowed fd00::/8");
    ok(addr_ok(a, 3, "x", "fc00::5") == 0, "guard: but not fc00::");
    ok(addr_ok(a, 3, "HOOKS.internal", "10.1.1.1") == 1,
       "guard: a host allowed by name, any address");
    ok(addr_ok(a, 3, "other.internal", "10.1.1.1") == 0,
       "guard: another host is not");
}


/* ---- one delivery to a fake receiver ---- */

typedef struct {
    int   fd;
    int   status;
    char  request[8192];
} receiver_t;


static void *
receive(void *data)
{
    receiver_t  *rv = data;

    int      c;
    char     answer[128];
    ssize_t  n;
    size_t   len;

    c = accept(rv->fd, NULL, NULL);
    if (c == -1) {
        return NULL;
    }

    len = 0;

    /* the head and a body of the length the head says */
    while (len < sizeof(rv->request) - 1) {
        n = read(c, rv->request + len, sizeof(rv->request) - 1 - len);
        if (n <= 0) {
            break;
        }

        len += (size_t) n;
        rv->request[len] = '\0';

        if (strstr(rv->request, "\r\n\r\n") != NULL
            && strstr(rv->request, "\"report.completed\"") != NULL
            && rv->request[len - 1] == '}')
        {
            break;
        }
    }

    snprintf(answer, sizeof(answer), "HTTP/1.1 %d X\r\nContent-Length: 0"
             "\r\nConnection: close\r\n\r\n", rv->status);
    (void) write(c, answer, strlen(answer));
    close(c);

    return NULL;
}


static void
test_post(void)
{
    int                           port;
    size_t                        len;
    char                          url[64];
    pthread_t                     tid;
    receiver_t                    rv;
    unsigned char                 key[PDF_REPORT_WEBHOOK_KEY_MAX];
    const char                   *body;
    pdf_report_webhook_msg_t      msg;
    pdf_report_webhook_conf_t     conf;
    pdf_report_webhook_allow_t    a;
    pdf_report_webhook_result_t   res;

    body = "{\"type\":\"report.completed\"}";

    (void) pdf_report_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     38, key, &len);

    memset(&msg, 0, sizeof(msg));
    msg.key = key;
    msg.key_len = len;
    msg.id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    msg.timestamp = 1614265330;
    msg.body = body;
    msg.len = strlen(body);

    memset(&conf, 0, sizeof(conf));
    conf.timeout_ms = 5000;

    memset(&rv, 0, sizeof(rv));
    rv.status = 204;

    if (fake_serve(&rv.fd, &port, &tid, receive, &rv) != 0) {
        ok(0, "post: a fake receiver");
        return;
    }

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook?k=secret", port);
    msg.url = url;

    /* refused before any connection: the receiver still waits */
    ok(pdf_report_webhook_post(&conf, &msg, &res) == -1 && res.refused
       && res.status == 0, "post: loopback refused without an allow entry");
    ok(strstr(res.error, "refused") != NULL
       && strstr(res.error, "secret") == NULL,
       "post: says why, without the query: %s", res.error);

    (void) allow(&a, "127.0.0.1");
    conf.allow = &a;
    conf.nallow = 1;

    ok(pdf_report_webhook_post(&conf, &msg, &res) == 0 && res.status == 204,
       "post: allowed, 204 is a success");

    fake_join(tid, rv.fd);

    ok(strncmp(rv.request, "POST /hook?k=secret HTTP/1.1\r\n", 30) == 0,
       "post: a POST to the URL");
    ok(strstr(rv.request, "\r\nwebhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\r\n")
       != NULL, "post: webhook-id");
    ok(strstr(rv.request, "\r\nwebhook-timestamp: 1614265330\r\n") != NULL,
       "post: webhook-timestamp");
    ok(strstr(rv.request, "\r\nwebhook-signature: v1,") != NULL,
       "post: webhook-signature");
    ok(strstr(rv.request, "\r\nContent-Type: application/json\r\n") != NULL,
       "post: Content-Type");
    ok(strstr(rv.request, "\r\n\r\n{\"type\":\"report.completed\"}") != NULL,
       "post: the body");

    /* a 410 and a 302 are failures, with the status */
    rv.status = 410;
    if (fake_serve(&rv.fd, &port, &tid, receive, &rv) == 0) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
        ok(pdf_report_webhook_post(&conf, &msg, &res) == -1
           && res.status == 410, "post: 410 is a failure: %s", res.error);
        fake_join(tid, rv.fd);
    }

    rv.status = 302;
    if (fake_serve(&rv.fd, &port, &tid, receive, &rv) == 0) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
        ok(pdf_report_webhook_post(&conf, &msg, &res) == -1
           && res.status == 302, "post: a redirect is not followed");
        fake_join(tid, rv.fd);
    }
}


static int
load(const char *text, pdf_report_webhooks_t *h, char *err, size_t len)
{
    int    rc;
    char   file[] = "/tmp/test_webhook_XXXXXX";
    int    fd;

    fd = mkstemp(file);
    if (fd == -1) {
        return -2;
    }

    if (write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
        close(fd);
        unlink(file);
        return -2;
    }

    close(fd);
    rc = pdf_report_webhooks_load(file, h, err, len);
    unlink(file);

    /* the message names the file: keep what follows it */
    if (rc != 0 && strncmp(err, file, strlen(file)) == 0) {
        memmove(err, err + strlen(file), strlen(err + strlen(file)) + 1);
    }

    return rc;
}


static void
test_file(void)
{
    char                         err[256];
    pdf_report_webhooks_t        h;
    const pdf_report_webhook_t  *w;

    ok(load("{\"org_id\":\"org_b\",\"url\":\"https://b.example/h\","
            "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}\n"
            "\n"
            "{\"org_id\":\"org_a\",\"url\":\"http://a.example:8080/\","
            "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}\r\n",
            &h, err, sizeof(err)) == 0 && h.n == 2,
       "file: two orgs, a blank line, a CRLF");

    w = pdf_report_webhooks_find(&h, "org_a");
    ok(w != NULL && strcmp(w->url, "http://a.example:8080/") == 0
       && w->key_len == 24, "file: org_a found, its URL and key");
    ok(pdf_report_webhooks_find(&h, "org_c") == NULL, "file: org_c is not");
    pdf_report_webhooks_free(&h);

    ok(load("{\"org_id\":\"org_a\",\"url\":\"ftp://a/\",\"secret\":"
            "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}\n", &h, err,
            sizeof(err)) == -1
       && strncmp(err, ":1: \"url\" must be", 17) == 0,
       "file: an ftp URL refused by line: %s", err);

    ok(load("\n{\"org_id\":\"org_a\",\"url\":\"https://a/\",\"secret\":"
            "\"whsec_TOPSECRETTOPSECRET\"}\n", &h, err, sizeof(err)) == -1
       && strncmp(err, ":2: \"secret\" must be", 20) == 0
       && strstr(err, "TOPSECRET") == NULL,
       "file: a bad secret refused, not shown: %s", err);

    ok(load("{\"org_id\":\"org_a\",\"url\":\"https://a/\",\"secret\":"
            "\"whsec_TOPSECRET\n", &h, err, sizeof(err)) == -1
       && strstr(err, "TOPSECRET") == NULL,
       "file: broken JSON refused, the secret not shown: %s", err);

    ok(load("{\"url\":\"https://a/\",\"secret\":"
            "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}\n", &h, err,
            sizeof(err)) == -1 && strstr(err, "org_id") != NULL,
       "file: no org_id: %s", err);

    ok(load("{\"org_id\":\"org_a\",\"url\":\"https://a/\",\"secret\":"
            "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}\n"
            "{\"org_id\":\"org_a\",\"url\":\"https://b/\",\"secret\":"
            "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}\n", &h, err,
            sizeof(err)) == -1 && strstr(err, "two lines") != NULL,
       "file: an org twice: %s", err);
}


int
main(void)
{
    test_secret();
    test_sign();
    test_allow();
    test_guard();
    test_post();
    test_file();

    printf("1..%d\n", tap_n);

    return tap_failed ? 1 : 0;
}
