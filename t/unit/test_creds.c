
/*
 * The credential sources without nginx: Expiration times, the
 * credentials document, the container endpoint's URL rules and the IMDS
 * endpoint from the environment's values, the authorization token file,
 * the shared-credentials file read again with what identifies it, when
 * to refresh and how long to wait after failures; and the IMDSv2 and
 * container exchanges against a small scripted HTTP server on loopback:
 * what is sent (the token's TTL header, the token on each GET, the
 * Authorization header), a 401 answered by a new token and one more
 * try, and messages that never quote a secret.
 */


#define _GNU_SOURCE            /* strcasestr */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <curl/curl.h>

#include "fake_listen.h"
#include "tap.h"
#include "pdf_report_util.h"
#include "pdf_report_creds.h"


#define FAKE_MAX      8

#define SECRET        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
#define TOKEN         "IQoJb3JpZ2luX2VjEPDFREPORT//session+token=="


typedef struct {
    int           fd;
    int           port;
    const char   *replies[FAKE_MAX];
    int           nreplies;
    int           served;
    char          head[FAKE_MAX][8192];
    pthread_t     tid;
} fake_t;


static const char  creds_json[] =
    "{\"Code\":\"Success\",\"LastUpdated\":\"2026-12-03T12:00:00Z\","
    "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAPDFREPORTTEST\","
    "\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN "\","
    "\"Expiration\":\"2026-12-03T18:00:00Z\"}";


static void *
fake_run(void *data)
{
    int            c, i;
    char           buf[8192], *end;
    size_t         len;
    ssize_t        n;
    fake_t        *f;
    struct pollfd  pfd;

    f = data;

    for (i = 0; i < f->nreplies; i++) {
        pfd.fd = f->fd;
        pfd.events = POLLIN;

        if (poll(&pfd, 1, 10000) != 1) {
            break;
        }

        c = accept(f->fd, NULL, NULL);
        if (c == -1) {
            break;
        }

        len = 0;
        end = NULL;

        while (end == NULL && len < sizeof(buf) - 1) {
            n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
            if (n <= 0) {
                break;
            }

            len += n;
            buf[len] = '\0';
            end = strstr(buf, "\r\n\r\n");
        }

        if (end != NULL) {
            *end = '\0';
            snprintf(f->head[i], sizeof(f->head[i]), "%s", buf);
            f->served++;
            (void) send(c, f->replies[i], strlen(f->replies[i]),
                        MSG_NOSIGNAL);
        }

        close(c);
    }

    return NULL;
}


static int
fake_start(fake_t *f)
{
    return fake_serve(&f->fd, &f->port, &f->tid, fake_run, f);
}


static void
fake_stop(fake_t *f)
{
    fake_join(f->tid, f->fd);
}


/* an answer with a body, Content-Length set */

static char *
reply(int status, const char *body)
{
    char    *r;
    size_t   n;

    n = strlen(body) + 128;
    r = malloc(n);

    if (r != NULL) {
        snprintf(r, n, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s", status, strlen(body), body);
    }

    return r;
}


static int
has_line(const char *head, const char *line)
{
    const char  *p;
    size_t       n;

    n = strlen(line);

    for (p = head; p != NULL; p = strstr(p, "\r\n")) {
        if (p != head) {
            p += 2;
        }

        if (strncasecmp(p, line, n) == 0
            && (p[n] == '\r' || p[n] == '\0'))
        {
            return 1;
        }

        if (p == head) {
            p = strstr(p, "\r\n");
            if (p == NULL) {
                break;
            }
        }
    }

    return 0;
}


static void
test_time(void)
{
    time_t  t;

    ok(pdf_report_creds_time("2026-12-03T18:00:00Z", 20, &t) == 0
       && t == 1796320800, "time: Zulu");
    ok(pdf_report_creds_time("1970-01-01T00:00:00Z", 20, &t) == 0 && t == 0,
       "time: the epoch");
    ok(pdf_report_creds_time("2026-12-03T18:00:00.123456Z", 27, &t) == 0
       && t == 1796320800, "time: fractions of a second dropped");
    ok(pdf_report_creds_time("2026-12-03T19:30:00+01:30", 25, &t) == 0
       && t == 1796320800, "time: +hh:mm");
    ok(pdf_report_creds_time("2026-12-03T13:00:00-0500", 24, &t) == 0
       && t == 1796320800, "time: -hhmm");
    ok(pdf_report_creds_time("2024-02-29T00:00:00Z", 20, &t) == 0
       && t == 1709164800, "time: a leap day");
    ok(pdf_report_creds_time("2026-02-29T00:00:00Z", 20, &t) != 0,
       "time: no 29 February in 2026");
    ok(pdf_report_creds_time("2026-12-03 18:00:00Z", 20, &t) != 0,
       "time: a space is not 'T'");
    ok(pdf_report_creds_time("2026-12-03T18:00:00", 19, &t) != 0,
       "time: a zone is required");
    ok(pdf_report_creds_time("2026-13-03T18:00:00Z", 20, &t) != 0,
       "time: month 13 refused");
    ok(pdf_report_creds_time("2026-12-03T18:00:00Zjunk", 24, &t) != 0,
       "time: trailing bytes refused");
    ok(pdf_report_creds_time("2026-12-03T18:00:00.Z", 21, &t) != 0,
       "time: a dot without digits refused");
}


static void
test_parse(void)
{
    int                    rc;
    char                   err[256], doc[6000], big[5000];
    pdf_report_s3_creds_t  c;

    rc = pdf_report_creds_parse(creds_json, strlen(creds_json), &c, err,
                                sizeof(err));

    is_int(rc, 0, "parse: IMDS's document");
    is_str(c.access_key, "ASIAPDFREPORTTEST", "parse: AccessKeyId");
    is_str(c.secret_key, SECRET, "parse: SecretAccessKey");
    is_str(c.session_token, TOKEN, "parse: Token");
    is_int(c.expiration, 1796320800, "parse: Expiration");

    /* the container endpoint's, without Code; RoleArn ignored */
    snprintf(doc, sizeof(doc), "{\"RoleArn\":\"arn:aws:iam::1:role/r\","
             "\"AccessKeyId\":\"ASIAECS\",\"SecretAccessKey\":\"s\","
             "\"Token\":\"t\",\"Expiration\":\"2026-12-03T18:00:00Z\"}");
    rc = pdf_report_creds_parse(doc, strlen(doc), &c, err, sizeof(err));
    ok(rc == 0 && strcmp(c.access_key, "ASIAECS") == 0,
       "parse: the container endpoint's document");

    snprintf(doc, sizeof(doc), "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\","
             "\"SecretAccessKey\":\"" SECRET "\","
             "\"Expiration\":\"2026-12-03T18:00:00Z\"}");
    rc = pdf_report_creds_parse(doc, strlen(doc), &c, err, sizeof(err));
    ok(rc == -1 && strstr(err, "Code is \"Failure\"") != NULL,
       "parse: a Code other than Success refused (%s)", err);
    ok(c.access_key[0] == '\0' && c.secret_key[0] == '\0',
       "parse: nothing half-read is left");

    snprintf(doc, sizeof(doc), "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
             "\"" SECRET "\",\"Token\":\"" TOKEN "\"}");
    rc = pdf_report_creds_parse(doc, strlen(doc), &c, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "the credentials have no Expiration") == 0,
       "parse: no Expiration refused");

    snprintf(doc, sizeof(doc), "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
             "\"" SECRET "\",\"Expiration\":\"tomorrow\"}");
    rc = pdf_report_creds_parse(doc, strlen(doc), &c, err, sizeof(err));
    ok(rc == -1 && strstr(err, "not an ISO 8601 time") != NULL,
       "parse: a bad Expiration refused");

    snprintf(doc, sizeof(doc), "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
             "\"" SECRET " \",\"Expiration\":\"2026-12-03T18:00:00Z\"}");
    rc = pdf_report_creds_parse(doc, strlen(doc), &c, err, sizeof(err));
    ok(rc == -1 && strstr(err, "SecretAccessKey holds a byte") != NULL
       && strstr(err, SECRET) == NULL,
       "parse: a space in the secret refused, the secret not quoted");

    snprintf(doc, sizeof(doc), "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
             "42,\"Expiration\":\"2026-12-03T18:00:00Z\"}");
    rc = pdf_report_creds_parse(doc, strlen(doc), &c, err, sizeof(err));
    ok(rc == -1 && strstr(err, "SecretAccessKey is not a string") != NULL,
       "parse: a secret that is not a string refused");

    memset(big, 'T', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(doc, sizeof(doc), "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
             "\"s\",\"Token\":\"%s\",\"Expiration\":\"2026-12-03T18:00:00Z\""
             "}", big);
    rc = pdf_report_creds_parse(doc, strlen(doc), &c, err, sizeof(err));
    ok(rc == -1 && strstr(err, "Token is too long") != NULL,
       "parse: a token over 4095 bytes refused");

    rc = pdf_report_creds_parse("{\"AccessKeyId\":\"" SECRET "\"", 30, &c,
                                err, sizeof(err));
    ok(rc == -1 && strcmp(err, "the credentials are not a JSON object") == 0,
       "parse: broken JSON refused without quoting it");

    rc = pdf_report_creds_parse("{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\""
                                ",\"SecretAccessKey\":\"s\",\"Expiration\":"
                                "\"2026-12-03T18:00:00Z\"}", 96, &c, err,
                                sizeof(err));
    ok(rc == -1, "parse: a duplicate member refused");
}


static void
test_urls(void)
{
    int   rc;
    char  url[256], err[256];

    rc = pdf_report_creds_container_url(NULL, "/v2/credentials/abc", url,
                                        sizeof(url), err, sizeof(err));
    ok(rc == 0 && strcmp(url, "http://169.254.170.2/v2/credentials/abc")
                  == 0, "container: a relative URI goes to 169.254.170.2");

    rc = pdf_report_creds_container_url("http://127.0.0.1:9/x",
                                        "/v2/credentials/abc", url,
                                        sizeof(url), err, sizeof(err));
    ok(rc == 0 && strncmp(url, "http://169.254.170.2/", 21) == 0,
       "container: the relative URI wins over the full one");

    rc = pdf_report_creds_container_url(NULL, "v2/creds", url, sizeof(url),
                                        err, sizeof(err));
    ok(rc == -1 && strstr(err, "does not start with '/'") != NULL,
       "container: a relative URI without '/' refused");

    rc = pdf_report_creds_container_url("http://127.0.0.1:51679/creds", NULL,
                                        url, sizeof(url), err, sizeof(err));
    ok(rc == 0 && strcmp(url, "http://127.0.0.1:51679/creds") == 0,
       "container: http to loopback");

    rc = pdf_report_creds_container_url("http://169.254.170.23/v1/creds",
                                        "", url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == 0, "container: http to EKS Pod Identity's agent");

    rc = pdf_report_creds_container_url("http://[fd00:ec2::23]/v1/creds",
                                        NULL, url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == 0, "container: http to the agent's IPv6 address");

    rc = pdf_report_creds_container_url("http://localhost:8080/c", NULL, url,
                                        sizeof(url), err, sizeof(err));
    ok(rc == 0, "container: http to localhost");

    rc = pdf_report_creds_container_url("http://[::1]:8080/c", NULL, url,
                                        sizeof(url), err, sizeof(err));
    ok(rc == 0, "container: http to [::1]");

    rc = pdf_report_creds_container_url("http://10.0.0.1/creds", NULL, url,
                                        sizeof(url), err, sizeof(err));
    ok(rc == -1 && strstr(err, "use https") != NULL,
       "container: http to another host refused");

    rc = pdf_report_creds_container_url("http://127.0.0.1@evil.test/c",
                                        NULL, url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == -1, "container: a user part refused");

    rc = pdf_report_creds_container_url("http://127.0.0.1.evil.test/c",
                                        NULL, url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == -1, "container: a name that starts like loopback refused");

    rc = pdf_report_creds_container_url("https://creds.example.com/c", NULL,
                                        url, sizeof(url), err, sizeof(err));
    ok(rc == 0, "container: https to any host");

    rc = pdf_report_creds_container_url("ftp://127.0.0.1/c", NULL, url,
                                        sizeof(url), err, sizeof(err));
    ok(rc == -1, "container: another scheme refused");

    rc = pdf_report_creds_container_url(NULL, NULL, url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == -1 && strstr(err, "neither") != NULL,
       "container: neither variable set");

    rc = pdf_report_creds_imds_endpoint(NULL, NULL, url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == 0 && strcmp(url, "http://169.254.169.254") == 0,
       "imds: the default endpoint");

    rc = pdf_report_creds_imds_endpoint("", "IPv6", url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == 0 && strcmp(url, "http://[fd00:ec2::254]") == 0,
       "imds: the IPv6 endpoint by mode");

    rc = pdf_report_creds_imds_endpoint("http://127.0.0.1:1338//", "IPv6",
                                        url, sizeof(url), err, sizeof(err));
    ok(rc == 0 && strcmp(url, "http://127.0.0.1:1338") == 0,
       "imds: the endpoint variable wins, trailing '/' dropped");

    rc = pdf_report_creds_imds_endpoint("169.254.169.254", NULL, url,
                                        sizeof(url), err, sizeof(err));
    ok(rc == -1, "imds: an endpoint without scheme refused");

    rc = pdf_report_creds_imds_endpoint(NULL, "IPv5", url, sizeof(url), err,
                                        sizeof(err));
    ok(rc == -1, "imds: an unknown mode refused");
}


static void
test_files(void)
{
    int                         fd, rc;
    char                        dir[] = "/tmp/pdf-report-creds-XXXXXX";
    char                        path[128], tpath[128], err[256], auth[64];
    pdf_report_s3_creds_t       c;
    pdf_report_creds_file_id_t  id, id2;

    static const char  ini[] =
        "[default]\naws_access_key_id = AKIDFILE1\n"
        "aws_secret_access_key = " SECRET "\n"
        "[temp]\naws_access_key_id = ASIAFILE2\n"
        "aws_secret_access_key = s2\naws_session_token = " TOKEN "\n";

    if (mkdtemp(dir) == NULL) {
        ok(0, "files: mkdtemp");
        return;
    }

    snprintf(path, sizeof(path), "%s/credentials", dir);
    snprintf(tpath, sizeof(tpath), "%s/token", dir);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(fd != -1 && write(fd, ini, sizeof(ini) - 1)
                   == (ssize_t) sizeof(ini) - 1, "files: written");
    close(fd);

    rc = pdf_report_creds_file(path, "default", &c, &id, err, sizeof(err));
    ok(rc == 0 && strcmp(c.access_key, "AKIDFILE1") == 0
       && strcmp(c.secret_key, SECRET) == 0 && c.session_token[0] == '\0'
       && c.expiration == 0, "file: the default profile");
    ok(id.ino != 0 && id.size == (int64_t) sizeof(ini) - 1
       && id.mtime_ns != 0, "file: identified by inode, size and times");

    rc = pdf_report_creds_file(path, "temp", &c, &id2, err, sizeof(err));
    ok(rc == 0 && strcmp(c.session_token, TOKEN) == 0,
       "file: a profile with a session token");
    ok(memcmp(&id, &id2, sizeof(id)) == 0, "file: the same file, same id");

    rc = pdf_report_creds_file(path, "nope", &c, &id, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "profile \"nope\" not found") == 0
       && c.access_key[0] == '\0', "file: a missing profile");

    rc = pdf_report_creds_file(tpath, "default", &c, &id, err, sizeof(err));
    ok(rc == -1 && strstr(err, "open() failed (2:") != NULL && id.ino == 0,
       "file: a missing file, id zero (%s)", err);

    rc = pdf_report_creds_file(dir, "default", &c, &id, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "not a regular file") == 0,
       "file: a directory refused");

    fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(fd != -1 && write(fd, "tok-123 \n", 9) == 9, "token file: written");
    close(fd);

    rc = pdf_report_creds_auth_file(tpath, auth, sizeof(auth), err,
                                    sizeof(err));
    ok(rc == 0 && strcmp(auth, "tok-123") == 0,
       "token file: read, trailing white space dropped");

    fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(fd != -1 && write(fd, "a\r\nX-Evil: 1", 12) == 12,
       "token file: a header break written");
    close(fd);

    rc = pdf_report_creds_auth_file(tpath, auth, sizeof(auth), err,
                                    sizeof(err));
    ok(rc == -1 && strstr(err, "control character") != NULL,
       "token file: a control character refused");

    ok(pdf_report_creds_auth_check("Bearer x", err, sizeof(err)) == 0
       && pdf_report_creds_auth_check("", err, sizeof(err)) == -1,
       "token: a value checked, an empty one refused");

    unlink(path);
    unlink(tpath);
    rmdir(dir);
}


static void
test_schedule(void)
{
    time_t  now;

    now = 1796300000;

    is_int(pdf_report_creds_refresh_at(now, 0), 0,
           "refresh: never for credentials that do not expire");
    is_int(pdf_report_creds_refresh_at(now, now + 6 * 3600),
           now + 6 * 3600 - 300, "refresh: 5 minutes before, for 6 hours");
    is_int(pdf_report_creds_refresh_at(now, now + 120), now + 60,
           "refresh: halfway, for 2 minutes");
    is_int(pdf_report_creds_refresh_at(now, now + 600), now + 300,
           "refresh: 10 minutes: halfway is 5 minutes before");
    is_int(pdf_report_creds_refresh_at(now, now + 1), now + 1,
           "refresh: at least a second later");
    is_int(pdf_report_creds_refresh_at(now, now - 10), now + 1,
           "refresh: expired: a second later, not in a loop");

    is_int(pdf_report_creds_backoff(1), 1, "backoff: 1 s");
    is_int(pdf_report_creds_backoff(2), 2, "backoff: 2 s");
    is_int(pdf_report_creds_backoff(4), 8, "backoff: 8 s");
    is_int(pdf_report_creds_backoff(5), 10, "backoff: capped at 10 s");
    is_int(pdf_report_creds_backoff(1000), 10, "backoff: stays capped");
}


static void
test_imds(void)
{
    int                       rc;
    char                      endpoint[64], *r[8];
    fake_t                    f;
    pdf_report_s3_creds_t     c;
    pdf_report_imds_token_t   tok;
    pdf_report_creds_fetch_t  fetch;

    memset(&f, 0, sizeof(f));
    r[0] = reply(200, "IMDSTOKEN-ONE");
    r[1] = reply(200, "pdf-report-role\n");
    r[2] = reply(200, creds_json);
    r[3] = reply(401, "");
    r[4] = reply(200, "IMDSTOKEN-TWO");
    r[5] = reply(200, "pdf-report-role");
    r[6] = reply(200, creds_json);

    f.replies[0] = r[0];
    f.replies[1] = r[1];
    f.replies[2] = r[2];
    f.nreplies = 3;

    if (fake_start(&f) != 0) {
        ok(0, "imds: fake server");
        return;
    }

    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", f.port);
    memset(&tok, 0, sizeof(tok));
    memset(&fetch, 0, sizeof(fetch));

    rc = pdf_report_creds_imds(endpoint, &tok, &fetch, &c);
    fake_stop(&f);

    is_int(rc, 0, "imds: credentials fetched (%s)", fetch.err);
    is_str(c.access_key, "ASIAPDFREPORTTEST", "imds: the role's key");
    is_str(c.session_token, TOKEN, "imds: its session token");
    is_str(fetch.role, "pdf-report-role", "imds: the role's name");
    ok(fetch.token_new && !fetch.token_refused, "imds: a new token");
    is_str(tok.value, "IMDSTOKEN-ONE", "imds: the token kept");
    ok(tok.expires >= time(NULL) + 21500, "imds: for its TTL");

    ok(strncmp(f.head[0], "PUT /latest/api/token HTTP/1.1", 30) == 0
       && has_line(f.head[0], "X-aws-ec2-metadata-token-ttl-seconds: 21600"),
       "imds: PUT /latest/api/token with the TTL header");
    ok(strncmp(f.head[1], "GET /latest/meta-data/iam/security-credentials/ "
                          "HTTP/1.1", 56) == 0
       && has_line(f.head[1], "X-aws-ec2-metadata-token: IMDSTOKEN-ONE"),
       "imds: the role asked for with the token");
    ok(strncmp(f.head[2], "GET /latest/meta-data/iam/security-credentials/"
                          "pdf-report-role HTTP/1.1", 71) == 0
       && has_line(f.head[2], "X-aws-ec2-metadata-token: IMDSTOKEN-ONE"),
       "imds: its credentials asked for with the token");

    /* the kept token answered 401: a new one, and the request again */

    memset(&f, 0, sizeof(f));
    f.replies[0] = r[3];
    f.replies[1] = r[4];
    f.replies[2] = r[5];
    f.replies[3] = r[6];
    f.nreplies = 4;

    if (fake_start(&f) != 0) {
        ok(0, "imds 401: fake server");
        return;
    }

    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/", f.port);
    endpoint[strlen(endpoint) - 1] = '\0';

    rc = pdf_report_creds_imds(endpoint, &tok, &fetch, &c);
    fake_stop(&f);

    is_int(rc, 0, "imds 401: credentials fetched after all (%s)",
           fetch.err);
    ok(fetch.token_refused && fetch.token_new,
       "imds 401: the token was refused and renewed");
    is_int(f.served, 4, "imds 401: four requests");
    ok(has_line(f.head[0], "X-aws-ec2-metadata-token: IMDSTOKEN-ONE")
       && strncmp(f.head[1], "PUT /latest/api/token ", 22) == 0
       && has_line(f.head[2], "X-aws-ec2-metadata-token: IMDSTOKEN-TWO")
       && has_line(f.head[3], "X-aws-ec2-metadata-token: IMDSTOKEN-TWO"),
       "imds 401: the old token, a PUT, then the new token");
    is_str(tok.value, "IMDSTOKEN-TWO", "imds 401: the new token kept");

    /* 401 again with a brand-new token: no loop, an error */

    memset(&f, 0, sizeof(f));
    f.replies[0] = r[4];
    f.replies[1] = r[3];
    f.nreplies = 2;

    if (fake_start(&f) != 0) {
        ok(0, "imds 401 twice: fake server");
        return;
    }

    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", f.port);
    tok.value[0] = '\0';

    rc = pdf_report_creds_imds(endpoint, &tok, &fetch, &c);
    fake_stop(&f);

    ok(rc == -1 && f.served == 2
       && strstr(fetch.err, "IMDS answered 401 to the request for the "
                            "instance role") != NULL,
       "imds 401 twice: an error, not a loop (%s)", fetch.err);
    ok(tok.value[0] == '\0', "imds 401 twice: the refused token dropped");
    ok(c.access_key[0] == '\0', "imds 401 twice: no credentials");

    /* nobody there */

    memset(&f, 0, sizeof(f));
    f.nreplies = 0;

    if (fake_start(&f) != 0) {
        ok(0, "imds down: fake server");
        return;
    }

    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", f.port);
    fake_stop(&f);

    rc = pdf_report_creds_imds(endpoint, &tok, &fetch, &c);
    ok(rc == -1 && fetch.http_status == 0 && fetch.err[0] != '\0',
       "imds down: an error (%s)", fetch.err);

    for (rc = 0; rc < 7; rc++) {
        free(r[rc]);
    }
}


static void
test_container(void)
{
    int                       rc;
    char                      url[128], *r[2];
    fake_t                    f;
    pdf_report_s3_creds_t     c;
    pdf_report_creds_fetch_t  fetch;

    memset(&f, 0, sizeof(f));
    r[0] = reply(200, creds_json);
    r[1] = reply(403, "{\"message\":\"" SECRET "\"}");
    f.replies[0] = r[0];
    f.replies[1] = r[1];
    f.nreplies = 2;

    if (fake_start(&f) != 0) {
        ok(0, "container: fake server");
        return;
    }

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/credentials/x",
             f.port);
    memset(&fetch, 0, sizeof(fetch));

    rc = pdf_report_creds_container(url, "Bearer ecs-auth-token", &fetch,
                                    &c);
    is_int(rc, 0, "container: credentials fetched (%s)", fetch.err);
    ok(strncmp(f.head[0], "GET /v2/credentials/x HTTP/1.1", 30) == 0
       && has_line(f.head[0], "Authorization: Bearer ecs-auth-token"),
       "container: GET with the Authorization header");
    is_str(c.session_token, TOKEN, "container: the session token");

    rc = pdf_report_creds_container(url, NULL, &fetch, &c);
    fake_stop(&f);

    ok(rc == -1 && fetch.http_status == 403
       && strstr(fetch.err, "answered 403") != NULL
       && strstr(fetch.err, SECRET) == NULL,
       "container: 403, the body not quoted (%s)", fetch.err);
    ok(strcasestr(f.head[1], "Authorization:") == NULL,
       "container: no token, no Authorization header");

    rc = pdf_report_creds_container(url, "a\nX-Evil: 1", &fetch, &c);
    ok(rc == -1 && strstr(fetch.err, "control character") != NULL,
       "container: a token that would break the header refused");

    free(r[0]);
    free(r[1]);
}


int
main(void)
{
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        printf("Bail out! curl_global_init failed\n");
        return 1;
    }

    test_time();
    test_parse();
    test_urls();
    test_files();
    test_schedule();
    test_imds();
    test_container();

    curl_global_cleanup();

    return done_testing();
}
