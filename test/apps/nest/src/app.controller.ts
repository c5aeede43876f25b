import { Body, Controller, Get, Post } from '@nestjs/common';

@Controller()
export class AppController {
  @Get()
  hello(): string {
    return `nest pid=${process.pid}`;
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }
}
