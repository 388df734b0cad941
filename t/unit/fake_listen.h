
/*
 * A unit test's fake HTTP server: a listening socket on a free loopback
 * port and a thread that serves it; test_s3.c and test_creds.c each give
 * their own thread function, which answers and returns.
 */


#ifndef _FAKE_LISTEN_H_INCLUDED_
#define _FAKE_LISTEN_H_INCLUDED_


#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>


static int
fake_listen(int *fd, int *port)
{
    int                 one;
    socklen_t           alen;
    struct sockaddr_in  sin;

    *fd = socket(AF_INET, SOCK_STREAM, 0);
    if (*fd == -1) {
        return -1;
    }

    one = 1;
    (void) setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    alen = sizeof(sin);

    if (bind(*fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(*fd, 16) != 0
        || getsockname(*fd, (struct sockaddr *) &sin, &alen) != 0)
    {
        close(*fd);
        return -1;
    }

    *port = ntohs(sin.sin_port);

    return 0;
}


static int
fake_serve(int *fd, int *port, pthread_t *tid, void *(*run)(void *),
    void *arg)
{
    if (fake_listen(fd, port) != 0) {
        return -1;
    }

    if (pthread_create(tid, NULL, run, arg) != 0) {
        close(*fd);
        return -1;
    }

    return 0;
}


static void
fake_join(pthread_t tid, int fd)
{
    (void) pthread_join(tid, NULL);
    close(fd);
}


#endif /* _FAKE_LISTEN_H_INCLUDED_ */
