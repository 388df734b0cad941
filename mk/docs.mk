# docs/openapi.yaml as one static HTML page, build/docs/index.html:
#
#   make docs
#
# "redocly build-docs" (npm's @redocly/cli, pinned in package-lock.json)
# prerenders the description with Redoc.  Its page would load the Redoc
# script from a CDN and fonts from Google: the fonts are left out (the
# page uses the browser's own) and tools/openapi-docs.js puts the script
# of the installed redoc package inline, so that the page needs no
# network when viewed.  The description is linted first (redocly.yaml).

DOCS_DIR    := $(BUILD)/docs
REDOCLY     := node_modules/.bin/redocly
# no usage report, no check for a newer version: offline
REDOCLY_ENV := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

.PHONY: docs

docs: $(DOCS_DIR)/index.html

$(DOCS_DIR)/index.html: docs/openapi.yaml redocly.yaml \
                        .redocly.lint-ignore.yaml tools/openapi-docs.js \
                        node_modules/.package-lock.json
	$(REDOCLY_ENV) $(REDOCLY) lint docs/openapi.yaml
	@mkdir -p $(DOCS_DIR)
	$(REDOCLY_ENV) $(REDOCLY) build-docs docs/openapi.yaml \
	    --disableGoogleFont --output $@.cdn
	node tools/openapi-docs.js $@.cdn $@
	rm -f $@.cdn
