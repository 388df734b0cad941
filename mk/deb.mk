# The Debian package libnginx-mod-http-pdf-report (debian/), built with
# dpkg-buildpackage -b -us -uc in a copy of the tree, so that the
# checkout stays clean (dpkg-buildpackage writes into debian/ and puts
# its output in the parent directory):
#
#   make deb        $(DEB_DIR)/libnginx-mod-http-pdf-report_<v>_<arch>.deb
#
# Needs debhelper, dpkg-dev and nginx-dev (dh-sequence-nginx) besides the
# libraries: tools/install-deps debhelper dpkg-dev.  tools/package-check
# builds it this way, lints it, installs it into Debian's nginx and runs
# the three steps against it.

DEB_DIR ?= $(BUILD)/deb
DEB_SRC := $(DEB_DIR)/libnginx-mod-http-pdf-report

.PHONY: deb

deb:
	@$(need_nginx_src)
	@command -v dpkg-buildpackage > /dev/null && command -v dh > /dev/null \
	    || { echo "make: dpkg-buildpackage or dh not found: install" \
	              "dpkg-dev and debhelper (tools/install-deps debhelper" \
	              "dpkg-dev)" >&2; exit 1; }
	rm -rf $(DEB_SRC) $(DEB_DIR)/build.log \
	    $(addprefix $(DEB_DIR)/*.,deb changes buildinfo)
	mkdir -p $(DEB_SRC)
	tar -C $(CURDIR) --exclude=./.git --exclude=./build \
	    --exclude=./node_modules --exclude='./t/servroot*' \
	    --exclude='$(patsubst $(CURDIR)/%,./%,$(abspath $(DEB_DIR)))' \
	    -cf - . \
	    | tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc \
	    > $(DEB_DIR)/build.log 2>&1 \
	    || { tail -30 $(DEB_DIR)/build.log; exit 1; }
	@ls $(DEB_DIR)/*.deb
