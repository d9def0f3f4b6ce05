import ServiceLifecycle

extension DemoPipeline {
    /// The windowing stage (statistics and alerts).
    ///
    /// TODO: add the windowing stage (KafkaProducer + KafkaConsumer + WindowingService, as
    /// `fluxgate windowing` builds them) once Sources/Windowing's WindowingService is committed;
    /// until then the demo shows readings and device status but no statistics or alerts.
    func windowing() throws -> [any Service] {
        []
    }
}
