# Build: docker build -t tradewind .   (docker-compose.yml uses it)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tradewind ./cmd/tradewind

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tradewind /usr/local/bin/tradewind
COPY examples/sources.yaml /etc/tradewind/sources.yaml
# The demo PayPal source pins this certificate by a path relative to the working directory.
COPY examples/paypal-simulator-cert.pem /etc/tradewind/examples/paypal-simulator-cert.pem
WORKDIR /etc/tradewind
ENV TRADEWIND_LISTEN=0.0.0.0:8080 TRADEWIND_SOURCES_FILE=/etc/tradewind/sources.yaml
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tradewind"]
CMD ["all"]
