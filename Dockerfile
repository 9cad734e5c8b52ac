# Copyright The vm-apiserver Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#

# vm-apiserver for users with a container engine; `make image` builds the
# same image without one. Both: a static binary, run as 65532:65532, on a
# base with nothing but CA certificates, /etc/passwd and /etc/group (no
# shell).
#
#   docker build --build-arg VERSION=$(git describe --tags) \
#     --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t vm-apiserver .

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.0.0-dev
ARG GIT_COMMIT=""
ARG GIT_TREE_STATE=clean
ARG BUILD_DATE=1970-01-01T00:00:00Z
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w \
        -X github.com/cozystack/vm-apiserver/pkg/version.gitVersion=${VERSION} \
        -X github.com/cozystack/vm-apiserver/pkg/version.gitCommit=${GIT_COMMIT} \
        -X github.com/cozystack/vm-apiserver/pkg/version.gitTreeState=${GIT_TREE_STATE} \
        -X github.com/cozystack/vm-apiserver/pkg/version.buildDate=${BUILD_DATE}" \
      -o /out/usr/local/bin/vm-apiserver ./cmd/vm-apiserver \
 && mkdir -p /out/etc/ssl/certs /out/tmp /out/home/nonroot \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /out/etc/group \
 && chmod 1777 /out/tmp && chown 65532:65532 /out/home/nonroot && chmod 0700 /out/home/nonroot

FROM scratch
COPY --from=build /out/ /
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/vm-apiserver"]
