import { Module } from '@nestjs/common';
import { AppController } from './app.controller';
import { ShutdownRecorder } from './shutdown-recorder.service';

@Module({
  controllers: [AppController],
  providers: [ShutdownRecorder],
})
export class AppModule {}
