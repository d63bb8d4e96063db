/* Prints the resident memory of a process that only opens a libvirt connection to URI and lists
 * its domains: the floor under any libvirt client's RSS (with test:///, the test driver and its
 * domains live in the client process). */
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    char line[256];
    FILE *f;
    int n;

    if (argc != 2) {
        fprintf(stderr, "usage: rss_probe URI\n");
        return 2;
    }
    conn = virConnectOpen(argv[1]);
    if (!conn)
        return 1;
    n = virConnectListAllDomains(conn, &doms, 0);
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            printf("%ld\n", strtol(line + 6, NULL, 10));
    if (f)
        fclose(f);
    virConnectClose(conn);
    return 0;
}
