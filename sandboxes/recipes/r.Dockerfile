# multiplt sandbox image: r. Built by `python -m multiplt.sandboxes build`; the offline build
# (debootstrap + chroot + docker import) reads this same file: FROM picks the Debian suite, RUN
# run in the chroot, ENV/USER/WORKDIR become image settings. The runner is not baked in: each
# container gets it from the host library at start, so host and runner never disagree.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-minimal libpython3-stdlib r-base-core \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
 && echo 'sandbox:x:10001:10001::/scratch:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'sandbox:x:10001:' >> /etc/group \
 && mkdir -p /scratch \
 && chmod 0711 /usr/lib/R/bin/exec/R
# R's binary executable but not readable by the sandbox user: the kernel then starts every R process
# undumpable (base R cannot call prctl), so a program cannot ptrace the warm evaluator or write its
# memory through /proc, though it runs under the same uid.
ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin
USER 10001:10001
WORKDIR /scratch
