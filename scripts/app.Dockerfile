# The image of one app of this repository (every app shares this file). Build the folder first,
# then the image from it:
#   pnpm --filter @tq/<app> run deploy        # writes deploy/<app> with this file as its Dockerfile
#   docker build -t tq-<app> deploy/<app>
# The ActiveMQ bridge's broker runs elsewhere (TQ_ACTIVEMQ_URL); activemq.xml in its folder is
# that broker's starting configuration.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    TQ_HTTP_HOST=0.0.0.0 \
    TQ_HTTP_PORT=8080
WORKDIR /app
COPY --chown=node:node . .
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs as PID 1 without a shell, so SIGTERM reaches the app's graceful shutdown.
CMD ["node", "dist/main.js"]
