# multiplt sandbox image: elixir. Built by `python -m multiplt.sandboxes build`; the offline build
# (debootstrap + chroot + docker import) reads this same file: FROM picks the Debian suite, RUN
# run in the chroot, ENV/USER/WORKDIR become image settings. The runner is not baked in: each
# container gets it from the host library at start, so host and runner never disagree.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-minimal libpython3-stdlib elixir \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
 && echo 'sandbox:x:10001:10001::/scratch:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'sandbox:x:10001:' >> /etc/group \
 && mkdir -p /scratch
ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin
USER 10001:10001
WORKDIR /scratch
