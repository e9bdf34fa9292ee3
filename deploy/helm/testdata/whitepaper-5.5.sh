# The helm commands of the whitepaper's section 5.5 ("Automated Migration
# Workflow (Helm-based)"), verbatim. chart_test.go runs each one, in order,
# through Helm's install/upgrade/rollback actions and checks what it renders.

# Phase 1: Enable Shadow Write
helm upgrade openchoreo-observability-plane ./install/helm/openchoreo-observability-plane \
  --namespace openchoreo-observability-plane \
  --set migration.shadowWrite.enabled=true \
  --wait

# Phase 2: Validate Data Consistency
helm upgrade openchoreo-observability-plane ./install/helm/openchoreo-observability-plane \
  --namespace openchoreo-observability-plane \
  --set migration.validation.enabled=true \
  --set migration.validation.durationSeconds=3600 \
  --set migration.validation.maxDriftPercent=1.0 \
  --wait

# Phase 3: Cutover Traffic
helm upgrade openchoreo-observability-plane ./install/helm/openchoreo-observability-plane \
  --namespace openchoreo-observability-plane \
  --set observer.telemetry.backend=clickstack \
  --set observer.telemetry.dualRead=false \
  --wait

# Phase 5: Cleanup OpenSearch
helm upgrade openchoreo-observability-plane ./install/helm/openchoreo-observability-plane \
  --namespace openchoreo-observability-plane \
  --set migration.cleanup.enabled=true \
  --set migration.cleanup.confirmed=true \
  --set migration.cleanup.archiveIndices=true \
  --wait

# Rollback During Shadow Write (Phase 1-2)
helm upgrade openchoreo-observability-plane ./install/helm/openchoreo-observability-plane \
  --namespace openchoreo-observability-plane \
  --set migration.shadowWrite.enabled=false \
  --set observer.telemetry.backend=opensearch \
  --wait

# Rollback After Cutover (Phase 3-4)
helm upgrade openchoreo-observability-plane ./install/helm/openchoreo-observability-plane \
  --namespace openchoreo-observability-plane \
  --set migration.shadowWrite.enabled=true \
  --set observer.telemetry.backend=opensearch \
  --wait

# Emergency Recovery (Post-Cleanup), step 1
helm rollback openchoreo-observability-plane <previous-revision> \
  --namespace openchoreo-observability-plane

# Emergency Recovery (Post-Cleanup), step 3
helm upgrade openchoreo-observability-plane ./install/helm/openchoreo-observability-plane \
  --set migration.shadowWrite.enabled=true \
  --set observer.telemetry.backend=opensearch \
  --wait
